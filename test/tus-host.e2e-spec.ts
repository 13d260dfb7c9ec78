import 'reflect-metadata';
import { Module, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { raw } from 'express';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { dataSourceOptions } from '../src/app/database';
import { StorageModule } from '../src/storage';
import { storageRecord, tusMetadata, tusRequest } from './harness/tus';
import { md5 } from './harness/util';

/**
 * tus in a host app that reads every request body itself (a global `express.raw` for all types)
 * under a global prefix: the module's tus creation and PATCH bodies still reach the upload whole,
 * and `Location` names the route as the client reaches it.
 */
describe('resumable uploads (tus) in a host app with a global raw body parser', () => {
  let dir: string;
  let app: INestApplication;
  let base: string;
  const auth = 'Bearer tus-host-token';

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'storage-tus-host-'));
    @Module({
      imports: [
        TypeOrmModule.forRoot(dataSourceOptions({ ...process.env, DATA_DIR: dir })),
        StorageModule.forRoot({
          storages: { 'storages.Default': { type: 'storages.LocalType', root: path.join(dir, 'files') } },
          publicBaseUrl: 'https://api.host.test',
          apiTokens: { alice: 'tus-host-token' },
          lifecycle: { sweepEnabled: false, purgeIntervalSeconds: 0 },
          routePrefix: 'files-api',
        }),
      ],
    })
    class HostModule {}
    const moduleRef = await Test.createTestingModule({ imports: [HostModule] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    app.setGlobalPrefix('api');
    app.use(raw({ type: () => true, limit: '50mb' }));
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await app?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creation-with-upload and PATCH bodies are the upload, not the host parser’s', async () => {
    const data = randomBytes(300_000);
    const name = `h${randomBytes(3).toString('hex')}/hosted.bin`;
    const created = await tusRequest(base, 'POST', '/api/files-api/tus', {
      auth,
      headers: {
        'Content-Type': 'application/offset+octet-stream',
        'Upload-Length': String(data.length),
        'Upload-Metadata': tusMetadata({ name }),
      },
      body: data.subarray(0, 100_000),
    });
    expect(created.status).toBe(201);
    expect(created.headers['upload-offset']).toBe('100000');
    const location = String(created.headers.location);
    expect(location).toMatch(/^\/api\/files-api\/tus\/[0-9a-f]{32}$/);

    const last = await tusRequest(base, 'PATCH', location, {
      auth,
      headers: { 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': '100000' },
      body: data.subarray(100_000),
    });
    expect(last.status).toBe(204);
    expect(storageRecord(last)).toMatchObject({ name, size: data.length, md5: md5(data) });
  });
});
