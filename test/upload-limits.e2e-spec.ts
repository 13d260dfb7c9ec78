import * as path from 'node:path';
import { DataSource, Like } from 'typeorm';
import { UploadPinEntity } from '../src/storage/database/entities/upload-pin.entity';
import { trickleRequest } from './harness/raw-http';
import { createTestApp, listFiles, OTHER_TOKEN, TOKEN, type TestApp } from './harness/test-app';
import { enc, eventually, md5 } from './harness/util';

/**
 * Uploads are timed by progress, not by total time: a slow upload that keeps sending outlives
 * Node's total request timeout; one that stalls is ended with 408 and leaves nothing behind.
 * Real slow clients on raw sockets; Node's 300 s request timeout is scaled down to 1.5 s.
 */
describe('upload timeouts by progress', () => {
  let t: TestApp;
  let base: string;
  const IDLE_MS = 1000;

  beforeAll(async () => {
    t = await createTestApp({
      env: { UPLOAD_IDLE_TIMEOUT_SECONDS: String(IDLE_MS / 1000) },
      serverTimeouts: { requestTimeout: 1500, headersTimeout: 1000, connectionsCheckingInterval: 100 },
    });
    const address = t.app.getHttpServer().address() as { port: number };
    base = `http://127.0.0.1:${address.port}`;
  });
  afterAll(() => t.close());

  const key = (name: string) => `${t.prefix}/slow/${name}`;
  const auth = { Authorization: `Bearer ${TOKEN}` };

  /** Pins (uploads in flight) of this test's keys, temp or version files on disk, and records. */
  async function leftovers(name: string) {
    const pins = await t.app
      .get(DataSource)
      .getRepository(UploadPinEntity)
      .count({
        where: { objectKey: Like(`${t.prefix}/%`) },
      });
    const files = listFiles(path.join(t.dataDir, 'files')).filter((f) => f.includes(path.basename(name, '.txt')));
    const meta = await t.http.get(`/storage/meta/${enc(name)}`).set('Authorization', t.auth);
    return { pins, files, meta: meta.status };
  }

  it('keeps an upload that sends a little at a time going past the total request timeout', async () => {
    const body = Buffer.from('slow but steady: 24 bytes');
    const started = Date.now();
    const res = await trickleRequest(`${base}/storage/files/${enc(key('steady.txt'))}`, {
      method: 'PUT',
      headers: { ...auth, 'Content-Type': 'text/plain' },
      body,
      chunkSize: 2,
      intervalMs: 200, // 13 pieces: about 2.6 s, well past the 1.5 s total timeout
    });
    expect(Date.now() - started).toBeGreaterThan(2000);
    expect(res.status).toBe(201);
    expect(JSON.parse(res.body.toString())).toMatchObject({
      name: key('steady.txt'),
      size: body.length,
      md5: md5(body),
    });
    const stored = await t.http.get(`/storage/files/${enc(key('steady.txt'))}`).set('Authorization', t.auth);
    expect(stored.text).toBe(body.toString());
  });

  it('ends a raw upload that stalls with 408 within the idle time, leaving nothing held', async () => {
    const name = key('stalled.txt');
    const res = await trickleRequest(`${base}/storage/files/${enc(name)}`, {
      method: 'PUT',
      headers: { ...auth, 'Content-Type': 'text/plain' },
      body: Buffer.alloc(1000, 'x'),
      chunkSize: 100,
      intervalMs: 50,
      stopAfter: 300,
    });
    expect(res.status).toBe(408);
    expect(JSON.parse(res.body.toString())).toMatchObject({ statusCode: 408, code: 'E_TIMEOUT' });
    expect(res.answeredAfterLastByteMs).toBeGreaterThanOrEqual(IDLE_MS - 50);
    expect(res.answeredAfterLastByteMs).toBeLessThan(IDLE_MS + 1000);
    expect(res.headers.connection).toBe('close');
    // Released before the answer: no pin, no temp or version file, no record.
    expect(await leftovers(name)).toEqual({ pins: 0, files: [], meta: 404 });
    const again = await t.http
      .put(`/storage/files/${enc(name)}`)
      .set('Authorization', t.auth)
      .send('now whole');
    expect(again.status).toBe(201);
  });

  it('ends a multipart upload that stalls inside the file part with 408, leaving nothing held', async () => {
    const name = key('stalled-multipart.txt');
    const boundary = 'x-boundary-1234';
    const body = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\n${name}\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n` +
        `Content-Type: text/plain\r\n\r\n${'y'.repeat(2000)}\r\n--${boundary}--\r\n`,
    );
    const res = await trickleRequest(`${base}/storage/files`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': `multipart/form-data; boundary=${boundary}` },
      body,
      chunkSize: 200,
      intervalMs: 50,
      stopAfter: 600,
    });
    expect(res.status).toBe(408);
    expect(JSON.parse(res.body.toString())).toMatchObject({ code: 'E_TIMEOUT' });
    expect(res.answeredAfterLastByteMs).toBeLessThan(IDLE_MS + 1000);
    expect(await leftovers(name)).toEqual({ pins: 0, files: [], meta: 404 });
  });
});

/**
 * Caps of uploads in flight, per user (token) and in all: past one, 429 with `Retry-After` and
 * the module's JSON error, before anything is claimed; a slot is free again when its upload ends.
 */
describe('concurrent upload caps', () => {
  let t: TestApp;
  let base: string;

  beforeAll(async () => {
    t = await createTestApp({ env: { MAX_CONCURRENT_UPLOADS: '2', MAX_CONCURRENT_UPLOADS_PER_USER: '1' } });
    const address = t.app.getHttpServer().address() as { port: number };
    base = `http://127.0.0.1:${address.port}`;
  });
  afterAll(() => t.close());

  const key = (name: string) => `${t.prefix}/caps/${name}`;

  /** An upload by `token` that takes about a second (10 bytes, one every 100 ms). */
  function slowUpload(name: string, token: string) {
    return trickleRequest(`${base}/storage/files/${enc(key(name))}`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'text/plain' },
      body: Buffer.from('0123456789'),
      chunkSize: 1,
      intervalMs: 100,
    });
  }

  const inFlight = () =>
    t.app
      .get(DataSource)
      .getRepository(UploadPinEntity)
      .count({ where: { objectKey: Like(`${t.prefix}/caps/%`) } });

  it('refuses a second upload of one user and a third in all with 429 and Retry-After; frees slots as uploads end', async () => {
    const alice = slowUpload('alice-slow.txt', TOKEN);
    expect(await eventually(async () => (await inFlight()) === 1)).toBe(true);

    const second = await t.http
      .put(`/storage/files/${enc(key('alice-2.txt'))}`)
      .set('Authorization', t.auth)
      .send('x');
    expect(second.status).toBe(429);
    expect(second.headers['retry-after']).toBe('1');
    expect(second.body).toMatchObject({ statusCode: 429, code: 'E_TOO_MANY_REQUESTS' });
    const multipart = await t.http
      .post('/storage/files')
      .set('Authorization', t.auth)
      .field('name', key('alice-3.txt'))
      .attach('file', Buffer.from('x'), 'a.txt');
    expect(multipart.status).toBe(429);

    const bob = slowUpload('bob-slow.txt', OTHER_TOKEN);
    expect(await eventually(async () => (await inFlight()) === 2)).toBe(true);
    // Two in flight: the total cap refuses even an upload without a user (a library call).
    await expect(t.service.uploadByFile({ file: key('lib.txt'), data: 'x' })).rejects.toMatchObject({
      code: 'E_TOO_MANY_REQUESTS',
    });

    expect((await alice).status).toBe(201);
    expect((await bob).status).toBe(201);
    const after = await t.http
      .put(`/storage/files/${enc(key('alice-2.txt'))}`)
      .set('Authorization', t.auth)
      .send('x');
    expect(after.status).toBe(201);
    // Nothing refused was stored.
    for (const name of ['alice-3.txt', 'lib.txt']) {
      expect((await t.http.get(`/storage/meta/${enc(key(name))}`).set('Authorization', t.auth)).status).toBe(404);
    }
  });

  it('gives the slot of a refused or failed upload back', async () => {
    const bad = await t.http
      .put(`/storage/files/${enc(key('bad.txt'))}?md5=${'0'.repeat(32)}`)
      .set('Authorization', t.auth)
      .send('not those bytes');
    expect(bad.status).toBe(400);
    const good = await t.http
      .put(`/storage/files/${enc(key('good.txt'))}`)
      .set('Authorization', t.auth)
      .send('ok');
    expect(good.status).toBe(201);
  });
});
