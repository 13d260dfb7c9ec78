import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { FileEntity } from '../src/storage/database/entities/file.entity';
import { RetiredObjectEntity } from '../src/storage/database/entities/retired-object.entity';
import { DEFAULT_INLINE_TYPES } from '../src/storage/options/preview.options';
import { ThumbnailService } from '../src/storage/thumbnails/thumbnail.service';
import { binaryParser, photoJpeg, transparentPng } from './harness/images';
import { keyState } from './harness/lifecycle';
import { openUpload } from './harness/open-upload';
import { startS3rver, type S3Peer } from './harness/peers/s3rver';
import { rawRequest } from './harness/raw-http';
import { createTestApp, listFiles, TOKEN, type TestApp } from './harness/test-app';
import { enc, eventually, md5 } from './harness/util';

/**
 * Promises the code keeps that no other test guarded (issue 10, the mutation review): each test
 * here failed against a source mutation that breaks its promise (listed in the report).
 */
describe('promises guarded against regression (issue 10)', () => {
  const MINIO = `storages.Minio${randomBytes(3).toString('hex')}`;
  let s3: S3Peer;
  let t: TestApp;
  let base: string;
  let root: string;
  const digits = Buffer.from('0123456789abcdefghij'); // 20 bytes
  let textKey: string;

  beforeAll(async () => {
    s3 = await startS3rver(['promises-minio']);
    t = await createTestApp({
      env: { VERSION_GRACE_SECONDS: '600' },
      config: {
        storages: {
          [MINIO]: {
            type: 'storages.MinioType',
            endPoint: '127.0.0.1',
            port: s3.port,
            useSSL: false,
            region: 'us-east-1',
            accessKey: s3.credentials.accessKeyId,
            secretKey: s3.credentials.secretAccessKey,
            bucket: 'promises-minio',
          },
        },
      },
    });
    base = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    root = path.join(t.dataDir, 'files');
    textKey = `${t.prefix}/digits.txt`;
    await t.service.uploadByFile({ file: textKey, data: digits, contentType: 'text/plain' });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await s3?.close();
  });

  const key = (name: string) => `${t.prefix}/${name}`;
  const bytes = <T extends { buffer(v: boolean): T; parse(p: typeof binaryParser): T }>(req: T) =>
    req.buffer(true).parse(binaryParser);
  const download = (k: string) => bytes(t.http.get(`/storage/files/${enc(k)}`).set('Authorization', t.auth));
  const preview = (k: string) => bytes(t.http.get(`/storage/preview/${enc(k)}`));
  const thumbnail = (k: string) => bytes(t.http.get(`/storage/thumbnail/${enc(k)}`).set('Accept', 'image/webp'));
  const put = async (k: string, body: string | Buffer, type = 'application/octet-stream') =>
    (
      await t.http
        .put(`/storage/files/${enc(k)}`)
        .set('Authorization', t.auth)
        .set('Content-Type', type)
        .send(body)
        .expect(201)
    ).body as { id: number; md5: string };

  describe('bearer tokens', () => {
    it.each([
      ['a prefix of a real token', TOKEN.slice(0, -1)],
      ['its first character', TOKEN.slice(0, 1)],
      ['a real token with one more character', `${TOKEN}x`],
      ['a real token twice', `${TOKEN}${TOKEN}`],
      ['a real token, a space and more', `${TOKEN} x`],
    ])('refuses %s', async (_label, bearer) => {
      const url = `/storage/meta/${enc(key('nothing.txt'))}`;
      await t.http.get(url).set('Authorization', t.auth).expect(404); // the real token gets in
      const res = await t.http.get(url).set('Authorization', `Bearer ${bearer}`).expect(401);
      expect(res.body.code).toBe('E_UNAUTHORIZED');
    });
  });

  describe('Cache-Control, exactly', () => {
    it('downloads: private, no-cache (200, 206, 304, HEAD)', async () => {
      const etag = `"${md5(digits)}"`;
      const cases = [
        await download(textKey).expect(200),
        await download(textKey).set('Range', 'bytes=0-1').expect(206),
        await download(textKey).set('If-None-Match', etag).expect(304),
        await t.http
          .head(`/storage/files/${enc(textKey)}`)
          .set('Authorization', t.auth)
          .expect(200),
      ];
      for (const res of cases)
        expect([res.status, res.headers['cache-control']]).toEqual([res.status, 'private, no-cache']);
    });

    it('previews: public, no-cache whether the verdict is inline or attachment', async () => {
      const png = key('cache/inline.png');
      const html = key('cache/page.html');
      await t.service.uploadByFile({ file: png, data: await transparentPng(), contentType: 'image/png' });
      await t.service.uploadByFile({ file: html, data: '<html><script>1</script></html>', contentType: 'text/html' });
      const inline = await preview(png).expect(200);
      expect(inline.headers['content-disposition']).toMatch(/^inline;/);
      const attachment = await preview(html).expect(200);
      expect(attachment.headers['content-disposition']).toMatch(/^attachment;/);
      const notModified = await preview(png).set('If-None-Match', inline.headers.etag).expect(304);
      for (const res of [inline, attachment, notModified])
        expect(res.headers['cache-control']).toBe('public, no-cache');
    });

    it('thumbnails: public, max-age=300, rendered and stored', async () => {
      const photo = key('cache/photo.jpg');
      await t.service.uploadByFile({ file: photo, data: await photoJpeg(300, 200), contentType: 'image/jpeg' });
      const renders = t.app.get(ThumbnailService).stats.renders;
      const rendered = await thumbnail(photo).expect(200);
      expect(t.app.get(ThumbnailService).stats.renders).toBe(renders + 1);
      const stored = await thumbnail(photo).expect(200);
      expect(t.app.get(ThumbnailService).stats.renders).toBe(renders + 1);
      for (const res of [rendered, stored]) expect(res.headers['cache-control']).toBe('public, max-age=300');
    });

    it('errors: no-store, on every route', async () => {
      const missing = key('cache/missing.png');
      const cases: Array<[number, () => PromiseLike<{ status: number; headers: Record<string, string> }>]> = [
        [404, () => download(missing)],
        [404, () => preview(missing)],
        [404, () => thumbnail(missing)],
        [404, () => t.http.get(`/storage/meta/${enc(missing)}`).set('Authorization', t.auth)],
        [401, () => t.http.get(`/storage/files/${enc(textKey)}`)],
        [416, () => download(textKey).set('Range', 'bytes=99-')],
        [416, () => preview(textKey).set('Range', 'bytes=99-')],
        [415, () => thumbnail(textKey)],
        [400, () => t.http.get(`/storage/files/${enc(textKey)}?storage=storages.Nope`).set('Authorization', t.auth)],
      ];
      for (const [status, request] of cases) {
        const res = await request();
        expect([res.status, res.headers['cache-control']]).toEqual([status, 'no-store']);
      }
    });
  });

  describe('conditional requests (RFC 9110 13.1.3, 13.1.5)', () => {
    const routes: Array<[string, (k: string) => ReturnType<typeof download>]> = [
      ['download', (k) => download(k)],
      ['preview', (k) => preview(k)],
    ];

    it.each(routes)(
      '%s: If-Modified-Since equal to Last-Modified is a 304, one second earlier a 200',
      async (_r, get) => {
        const lastModified = (await get(textKey).expect(200)).headers['last-modified'];
        const earlier = new Date(Date.parse(lastModified) - 1000).toUTCString();
        await get(textKey).set('If-Modified-Since', lastModified).expect(304);
        const changed = await get(textKey).set('If-Modified-Since', earlier).expect(200);
        expect(changed.body).toEqual(digits);
      },
    );

    it.each(routes)('%s: If-Range with a date or a weak tag', async (_r, get) => {
      const first = await get(textKey).expect(200);
      const { etag } = first.headers;
      const lastModified = first.headers['last-modified'];
      const earlier = new Date(Date.parse(lastModified) - 1000).toUTCString();
      const later = new Date(Date.parse(lastModified) + 1000).toUTCString();
      const cases: Array<[string, number, string]> = [
        [lastModified, 206, '2345'], // the date the response gave: fresh
        [earlier, 200, digits.toString()], // older than the file: stale, the whole file
        [later, 200, digits.toString()], // not the file's date: only an exact match is fresh
        [`W/${etag}`, 200, digits.toString()], // a weak tag never matches (13.1.5: strong comparison)
        [etag, 206, '2345'],
        ['"other"', 200, digits.toString()],
      ];
      for (const [ifRange, status, text] of cases) {
        const res = await get(textKey).set({ Range: 'bytes=2-5', 'If-Range': ifRange });
        expect([ifRange, res.status, res.body.toString()]).toEqual([ifRange, status, text]);
        expect(res.headers['content-range']).toBe(status === 206 ? 'bytes 2-5/20' : undefined);
      }
    });
  });

  describe('preview verdicts', () => {
    it('a path first a PNG, then overwritten with HTML bytes under an image type, is no longer inline', async () => {
      const k = key('verdict/avatar.png');
      await put(k, await transparentPng(), 'image/png');
      const before = await preview(k).expect(200);
      expect(before.headers['content-disposition']).toMatch(/^inline;/);
      const html = '<!DOCTYPE html><html><body><script>alert(document.domain)</script></body></html>';
      await put(k, html, 'image/png');
      const after = await preview(k).expect(200);
      expect(after.body.toString()).toBe(html);
      expect(after.headers['content-disposition']).toMatch(/^attachment;/);
      expect(after.headers['content-security-policy']).toBe('sandbox');
    });
  });

  describe('thumbnails', () => {
    it('answers a Range on the first request, the one that renders, with the right bytes', async () => {
      const service = t.app.get(ThumbnailService);
      const cases: Array<[string, (size: number) => [number, number]]> = [
        ['bytes=0-99', () => [0, 99]],
        ['bytes=-10', (size) => [size - 10, size - 1]],
        ['bytes=50-', (size) => [50, size - 1]],
      ];
      for (const [i, [range, expected]] of cases.entries()) {
        const photo = key(`thumb-range/photo-${i}.jpg`);
        await t.service.uploadByFile({ file: photo, data: await photoJpeg(320, 240), contentType: 'image/jpeg' });
        const renders = service.stats.renders;
        const ranged = await rawRequest(`${base}/storage/thumbnail/${enc(photo)}`, {
          headers: { Range: range, Accept: 'image/webp' },
        });
        expect(service.stats.renders).toBe(renders + 1); // this request rendered it
        const whole = await thumbnail(photo).expect(200);
        expect(service.stats.renders).toBe(renders + 1); // this one was served from storage
        const size = whole.body.length;
        const [start, end] = expected(size);
        expect([range, ranged.status, ranged.headers['content-range']]).toEqual([
          range,
          206,
          `bytes ${start}-${end}/${size}`,
        ]);
        expect(ranged.headers.etag).toBe(whole.headers.etag);
        expect(ranged.headers['content-length']).toBe(String(end - start + 1));
        expect(ranged.complete).toBe(true);
        expect(ranged.body.equals(whole.body.subarray(start, end + 1))).toBe(true);
      }
    });
  });

  describe('an upload that started first but commits last', () => {
    it('is the path’s version from then on: the last commit wins, the newer upload it replaces is retired', async () => {
      const k = key('stale/report.bin');
      const early = openUpload(base, 'PUT', `/storage/files/${enc(k)}`, {
        Authorization: t.auth,
        'Content-Type': 'application/octet-stream',
      });
      const earlyBody = [randomBytes(64 * 1024), randomBytes(64 * 1024)];
      await early.write(earlyBody[0]);
      expect(await eventually(async () => (await keyState(t, k)).pins === 1)).toBe(true);

      const later = await put(k, 'started second, committed first');
      const laterObject = (await keyState(t, k)).records[0].objectKey;
      expect((await download(k).expect(200)).body.toString()).toBe('started second, committed first');

      const answer = await early.finish(earlyBody[1]);
      expect(answer.status).toBe(201);
      const committed = JSON.parse(answer.body) as { id: number; md5: string };
      expect(committed.md5).toBe(md5(Buffer.concat(earlyBody)));
      expect(committed.id).toBeGreaterThan(later.id);

      const state = await keyState(t, k);
      expect(state.records.map((r) => r.id)).toEqual([committed.id]);
      expect(state.pins).toBe(0);
      const served = await download(k).expect(200);
      expect(md5(served.body)).toBe(committed.md5);
      const retired = t.app.get(DataSource).getRepository(RetiredObjectEntity);
      expect(await retired.countBy({ storeFullName: 'storages.Default', objectKey: laterObject })).toBe(1);
    });
  });

  describe('sign/complete', () => {
    it('refuses a staged object whose type differs from the signed one, records nothing, removes it', async () => {
      const signAndPut = async (file: string, sentType: string, data: string) => {
        const signed = await t.http
          .post('/storage/sign')
          .set('Authorization', t.auth)
          .send({ file, contentType: 'image/png', storage: MINIO })
          .expect(200);
        // MinIO's presigned PUT does not bind the type: the backend takes whatever is sent.
        const res = await fetch(signed.body.url, {
          method: signed.body.method,
          headers: { ...signed.body.headers, 'Content-Type': sentType },
          body: data,
        });
        expect(res.status).toBe(200);
      };
      const complete = (file: string) =>
        t.http.post('/storage/sign/complete').set('Authorization', t.auth).send({ file, storage: MINIO });
      const driver = t.service.instance(MINIO).driver;
      const objects = async () => {
        const keys: string[] = [];
        for await (const o of driver.list('')) keys.push(o.key);
        return keys;
      };

      const file = key('signed/photo.png');
      await signAndPut(file, 'text/html', '<html><script>alert(1)</script></html>');
      const refused = await complete(file).expect(403);
      expect(refused.body).toMatchObject({ code: 'E_SIGNATURE_INVALID' });
      expect(refused.body.message).toContain("'text/html'");
      await t.http
        .get(`/storage/meta/${enc(file)}?storage=${MINIO}`)
        .set('Authorization', t.auth)
        .expect(404);
      const records = t.app.get(DataSource).getRepository(FileEntity);
      expect(await records.countBy({ storeFullName: MINIO })).toBe(0);
      expect(await objects()).toEqual([]);
      await complete(file).expect(404); // the grant is used up

      const good = key('signed/good.png');
      await signAndPut(good, 'image/png', 'png bytes');
      await complete(good).expect(201);
      expect(await records.countBy({ storeFullName: MINIO })).toBe(1);
    });
  });

  describe('clients that go away mid-body', () => {
    const retryQuickly = async (k: string) => {
      const started = Date.now();
      const record = await put(k, 'the retry');
      expect(Date.now() - started).toBeLessThan(3000);
      expect((await download(k).expect(200)).body.toString()).toBe('the retry');
      return record;
    };
    const inFolder = (folder: string) => listFiles(root).filter((f) => f.startsWith(`${folder}/`));
    const tempIn = (folder: string) => inFolder(folder).some((f) => path.basename(f).startsWith('.~tmp.'));
    const nothingLeft = async (k: string, folder: string) => {
      expect(await eventually(async () => inFolder(folder).length === 0 && (await keyState(t, k)).pins === 0)).toBe(
        true,
      );
      expect(await keyState(t, k)).toEqual({ records: [], row: null, pins: 0 });
      await t.http
        .get(`/storage/meta/${enc(k)}`)
        .set('Authorization', t.auth)
        .expect(404);
    };

    it('a chunked PUT (no Content-Length) leaves no record, object or temp file, and frees the key', async () => {
      const folder = key('abort-chunked');
      const k = `${folder}/big.bin`;
      const upload = openUpload(base, 'PUT', `/storage/files/${enc(k)}`, {
        Authorization: t.auth,
        'Content-Type': 'application/octet-stream',
      });
      for (let i = 0; i < 4; i++) await upload.write(randomBytes(64 * 1024));
      expect(await eventually(() => tempIn(folder))).toBe(true);
      await upload.abort();
      await nothingLeft(k, folder);
      await retryQuickly(k);
    });

    it('a multipart POST leaves no record, object or temp file, and frees the key', async () => {
      const folder = key('abort-multipart');
      const k = `${folder}/big.bin`;
      const boundary = `----promises${randomBytes(8).toString('hex')}`;
      const head = Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\n${k}\r\n` +
          `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n` +
          'Content-Type: application/octet-stream\r\n\r\n',
      );
      const upload = openUpload(base, 'POST', '/storage/files', {
        Authorization: t.auth,
        'Content-Type': `multipart/form-data; boundary=${boundary}`,
        'Content-Length': String(head.length + 4 * 1024 * 1024 + boundary.length + 8),
      });
      await upload.write(head);
      for (let i = 0; i < 4; i++) await upload.write(randomBytes(64 * 1024));
      expect(await eventually(() => tempIn(folder))).toBe(true);
      await upload.abort();
      await nothingLeft(k, folder);
      await retryQuickly(k);
    });
  });
});

describe('a widened inline allow-list (issue 10)', () => {
  const scriptCapable = [
    'text/html',
    'application/xhtml+xml',
    'image/svg+xml',
    'text/xml',
    'application/xml',
    'text/javascript',
    'application/javascript',
  ];
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({
      config: { preview: { inlineTypes: [...DEFAULT_INLINE_TYPES, ...scriptCapable, 'text/*', 'application/*'] } },
    });
  });
  afterAll(() => t?.close());

  const preview = (k: string) =>
    t.http
      .get(`/storage/preview/${enc(k)}`)
      .buffer(true)
      .parse(binaryParser)
      .expect(200);

  it.each(scriptCapable)(
    'still sends %s as a sandboxed attachment, even when its bytes do not look like markup',
    async (type) => {
      const k = `${t.prefix}/widened/${md5(type)}`;
      // Starts with words, not a tag: only the declared type can tell that a browser would run it.
      await t.service.uploadByFile({ file: k, data: 'plain words, then <script>alert(1)</script>', contentType: type });
      const res = await preview(k);
      expect(res.headers['content-disposition']).toMatch(/^attachment;/);
      expect(res.headers['content-security-policy']).toBe('sandbox');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    },
  );

  it('while the types it adds that cannot run script are inline', async () => {
    const k = `${t.prefix}/widened/table.csv`;
    await t.service.uploadByFile({ file: k, data: 'a,b\n1,2\n', contentType: 'text/csv' });
    expect((await preview(k)).headers['content-disposition']).toMatch(/^inline;/);
  });
});
