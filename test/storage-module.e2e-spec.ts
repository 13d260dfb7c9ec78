import 'reflect-metadata';
import { Injectable, Module, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import request from 'supertest';
import { dataSourceOptions } from '../src/app/database';
import { setupStorageApp } from '../src/app/setup-app';
import { StorageModule, StorageService, type StorageModuleOptions } from '../src/storage';
import { storageDriverToken } from '../src/storage/module/storage.constants';
import { md5 } from './harness/util';

/** A host application's own guard: trusts an `X-User` header (for the test only). */
@Injectable()
class HeaderGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest();
    if (!req.headers['x-user']) return false;
    req.user = { username: req.headers['x-user'] };
    return true;
  }
}

describe('StorageModule as a library', () => {
  let dir: string;
  const prefix = `lib${randomBytes(4).toString('hex')}`;

  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'storage-lib-'))));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  function hostModule(options: Partial<StorageModuleOptions>, extras: Record<string, unknown> = {}, sqlite = false) {
    const env = { ...process.env, DATA_DIR: dir, ...(sqlite ? { DB_URL: '' } : {}) };
    @Module({
      imports: [
        TypeOrmModule.forRoot(dataSourceOptions(env)),
        StorageModule.forRoot({
          storages: {
            'storages.Default': { type: 'storages.LocalType', root: path.join(dir, 'default') },
            'storages.Second': {
              type: 'storages.LocalType',
              root: path.join(dir, 'second'),
              publicUrl: 'https://cdn.test/s',
            },
          },
          ...options,
          ...extras,
        } as never),
      ],
    })
    class HostModule {}
    return HostModule;
  }

  it('injects StorageService with the spec’s methods: uploadByFile (path + data, file object), download, delete', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [hostModule({}, { http: false })] }).compile();
    await moduleRef.init();
    const storage = moduleRef.get(StorageService);
    expect(moduleRef.get(storageDriverToken('storages.Second'))).toBe(storage.instance('storages.Second').driver);

    const pdf = Buffer.from('%PDF-1.4 pretend');
    const r1 = await storage.uploadByFile({
      file: `${prefix}/reports/report.pdf`,
      data: pdf,
      contentType: 'application/pdf',
    });
    expect(r1).toMatchObject({
      name: `${prefix}/reports/report.pdf`,
      md5: md5(pdf),
      size: pdf.length,
      type: 'application/pdf',
    });
    expect(r1.url).toBe(`http://localhost:3000/storage/preview/${prefix}/reports/report.pdf`);
    expect(await storage.download(`${prefix}/reports/report.pdf`)).toEqual(pdf);

    const text = `file content ${prefix}`;
    const r2 = await storage.uploadByFile({
      file: 'example.txt',
      data: text,
      md5: md5(text),
      contentType: 'text/plain',
    });
    expect(r2.name).toBe(`${md5(text)}.txt`);
    expect(r2.fileName).toBe('example.txt');
    await expect(storage.uploadByFile({ file: 'x.txt', data: 'abc', md5: md5('abd') })).rejects.toMatchObject({
      code: 'E_MD5_MISMATCH',
    });

    const r3 = await storage.uploadByFile({
      file: { originalname: 'photo.jpg', mimetype: 'image/jpeg', buffer: Buffer.from([0xff, 0xd8, 0xff]) },
      storage: 'storages.Second',
      expires: 3600,
      user: 'admin123',
    });
    expect(r3).toMatchObject({
      name: 'photo.jpg',
      type: 'image/jpeg',
      storeFullName: 'storages.Second',
      fullName: 'storages.LocalType',
      uploadUser: 'admin123',
      retentionPeriod: 3600,
      url: 'https://cdn.test/s/photo.jpg',
    });
    expect(r3.expires! - r3.uploadTime).toBe(3600_000);

    const streamed = await storage.uploadStream({
      file: `${prefix}/stream.bin`,
      body: Readable.from([Buffer.alloc(1000, 1), Buffer.alloc(24, 2)]),
    });
    expect(streamed.size).toBe(1024);
    const { stream, stat } = await storage.downloadStream(`${prefix}/stream.bin`, { range: { start: 999, end: 1000 } });
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c);
    expect(Buffer.concat(chunks)).toEqual(Buffer.from([1, 2]));
    expect(stat.size).toBe(1024);

    await expect(storage.uploadByFile({ file: 'a.txt', data: 'x', storage: 'storages.Nope' })).rejects.toThrow(
      "unknown storage 'storages.Nope'; configured: storages.Default, storages.Second",
    );
    await expect(storage.uploadByFile({ file: 'a.txt' })).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' });

    await storage.delete(`${prefix}/reports/report.pdf`);
    await expect(storage.download(`${prefix}/reports/report.pdf`)).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    expect(fs.existsSync(path.join(dir, 'default', prefix, 'reports'))).toBe(false);
    await moduleRef.close();
  });

  it('refuses a bad configuration at start-up, naming the field', async () => {
    // On SQLite: a start-up that fails leaves its data source open, which on MySQL would keep a pool alive.
    const bad = hostModule({ storages: { 'storages.Default': { type: 'storages.LocalType' } } }, { http: false }, true);
    await expect(Test.createTestingModule({ imports: [bad] }).compile()).rejects.toThrow(
      "invalid configuration at 'storages['storages.Default'].root'",
    );
  });

  it('lets the host swap in its own guard, recording its user', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [hostModule({}, { authGuard: HeaderGuard, routePrefix: 'files-api' })],
    }).compile();
    const app = moduleRef.createNestApplication({ bodyParser: false, logger: false });
    setupStorageApp(app, 'files-api');
    await app.init();
    const http = request(app.getHttpServer());
    await http.put(`/files-api/files/${prefix}/g.txt`).send('x').expect(403);
    const res = await http.put(`/files-api/files/${prefix}/g.txt`).set('X-User', 'carol').send('x').expect(201);
    expect(res.body.uploadUser).toBe('carol');
    expect(res.body.url).toBe(`http://localhost:3000/files-api/preview/${prefix}/g.txt`);
    await app.close();
  });
});
