import { Module, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import request from 'supertest';
import { dataSourceOptions } from '../src/app/database';
import { StorageModule } from '../src/storage';
import { createTestApp, type TestApp } from './harness/test-app';

const PAGE = 'https://files.example.test';

/** CORS on the module's routes (`CORS_ORIGINS`): preflights, exposed headers, refused origins. */
describe('CORS for browser pages', () => {
  let t: TestApp;
  let off: TestApp;

  beforeAll(async () => {
    [t, off] = await Promise.all([
      createTestApp({ env: { CORS_ORIGINS: `${PAGE}, https://other.example.test` } }),
      createTestApp(),
    ]);
  });
  afterAll(async () => {
    await Promise.all([t?.close(), off?.close()]);
  });

  it.each([
    ['POST', '/storage/sign/multipart', 'authorization, content-type'],
    ['PATCH', '/storage/tus/some-id', 'tus-resumable, upload-offset, content-type'],
    ['PUT', '/storage/files/a/b.txt', 'authorization, content-type'],
  ])('answers the preflight of %s %s for an allowed origin', async (method, path, headers) => {
    const res = await t.http
      .options(path)
      .set('Origin', PAGE)
      .set('Access-Control-Request-Method', method)
      .set('Access-Control-Request-Headers', headers)
      .expect(204);
    expect(res.headers['access-control-allow-origin']).toBe(PAGE);
    expect(res.headers['access-control-allow-methods']).toContain(method);
    for (const h of headers.split(', ')) expect(res.headers['access-control-allow-headers'].toLowerCase()).toContain(h);
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
    expect(res.headers['access-control-max-age']).toBe('600');
    expect(res.headers.vary).toContain('Origin');
  });

  it('lets an allowed page read the answer and the headers tus and the client need', async () => {
    const res = await t.http.get('/storage/instances').set('Origin', PAGE).set('Authorization', t.auth).expect(200);
    expect(res.headers['access-control-allow-origin']).toBe(PAGE);
    const exposed = res.headers['access-control-expose-headers'];
    for (const h of ['Location', 'Upload-Offset', 'ETag', 'Content-Range', 'Upload-Length', 'Tus-Resumable']) {
      expect(exposed).toContain(h);
    }
    // Errors too, so the page can read why (here: no token).
    const refused = await t.http.get('/storage/instances').set('Origin', PAGE).expect(401);
    expect(refused.headers['access-control-allow-origin']).toBe(PAGE);
  });

  it('gives another origin no CORS header and refuses its preflight', async () => {
    const pre = await t.http
      .options('/storage/sign')
      .set('Origin', 'https://evil.example.test')
      .set('Access-Control-Request-Method', 'POST')
      .expect(403);
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
    const res = await t.http
      .get('/storage/instances')
      .set('Origin', 'https://evil.example.test')
      .set('Authorization', t.auth);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('adds nothing when CORS is not configured', async () => {
    const res = await off.http.get('/storage/instances').set('Origin', PAGE).set('Authorization', off.auth).expect(200);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('leaves routes outside the prefix alone', async () => {
    const res = await t.http.get('/health/live').set('Origin', PAGE);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('works in a host app under its global prefix and the module’s own route prefix, and nowhere else', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cors-host-'));
    @Module({})
    class HostModule {}
    const moduleRef = await Test.createTestingModule({
      imports: [
        {
          module: HostModule,
          imports: [
            TypeOrmModule.forRoot(dataSourceOptions({ ...process.env, DATA_DIR: dir })),
            StorageModule.forRoot({
              storages: { 'storages.Default': { type: 'storages.LocalType', root: path.join(dir, 'files') } },
              publicBaseUrl: 'https://api.host.test',
              apiTokens: { alice: 'alice-token' },
              lifecycle: { sweepEnabled: false, purgeIntervalSeconds: 0 },
              cors: { origins: [PAGE] },
              routePrefix: 'media',
            }),
          ],
        },
      ],
    }).compile();
    const app: INestApplication = moduleRef.createNestApplication({ logger: false });
    app.setGlobalPrefix('api');
    await app.init();
    try {
      const pre = await request(app.getHttpServer())
        .options('/api/media/sign/multipart')
        .set('Origin', PAGE)
        .set('Access-Control-Request-Method', 'POST')
        .expect(204);
      expect(pre.headers['access-control-allow-origin']).toBe(PAGE);
      const outside = await request(app.getHttpServer())
        .options('/api/other')
        .set('Origin', PAGE)
        .set('Access-Control-Request-Method', 'POST');
      expect(outside.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await app.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
