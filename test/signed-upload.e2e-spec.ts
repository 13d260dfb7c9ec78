import * as path from 'node:path';
import { Readable } from 'node:stream';
import type { SignedUpload, SignUploadOptions, StorageDriver } from '../src/storage/drivers/storage-driver';
import { enc, FakeClock, md5 } from './harness/lifecycle';
import { createTestApp, listFiles, OTHER_TOKEN, type TestApp } from './harness/test-app';

/**
 * Signed direct uploads: `POST /storage/sign` gives a URL bound to key, type, size and expiry;
 * every tampered, expired, wrong-type, oversized or replayed upload is refused with nothing
 * written, and a good one lands with the signer as its uploader.
 */
describe('signed uploads', () => {
  let t: TestApp;
  let root: string;
  const clock = new FakeClock();

  beforeAll(async () => {
    t = await createTestApp({
      clock,
      env: { MAX_UPLOAD_SIZE: '64KB', SIGNING_SECRET: 'e2e-signing-secret-0123456789' },
    });
    root = path.join(t.dataDir, 'files');
  });
  afterAll(() => t.close());

  const key = (name: string) => `${t.prefix}/signed/${name}`;

  async function sign(file: string, contentType = 'image/png', extra: Record<string, unknown> = {}) {
    const res = await t.http
      .post('/storage/sign')
      .set('Authorization', `Bearer ${OTHER_TOKEN}`)
      .send({ file, contentType, ...extra });
    expect(res.status).toBe(200);
    return res.body as SignedUpload;
  }

  /** The URL's path and query, to send to the app under test (its public host is storage.test). */
  const local = (url: string) => {
    const u = new URL(url);
    expect(u.origin).toBe('http://storage.test');
    return `${u.pathname}${u.search}`;
  };

  const withParam = (url: string, name: string, value: string | null) => {
    const u = new URL(url, 'http://storage.test');
    if (value === null) u.searchParams.delete(name);
    else u.searchParams.set(name, value);
    return `${u.pathname}${u.search}`;
  };

  /** Changes a character in the middle (the last one has spare bits). */
  const tamper = (s: string) => s.slice(0, 10) + (s[10] === 'A' ? 'B' : 'A') + s.slice(11);

  it('answers {url, method, headers, expiresAt}, bound to the key, type, size and expiry', async () => {
    const signed = await sign(key('shape.png'), 'image/png', { maxSize: 1000, expiresIn: 120 });
    expect(signed).toEqual({
      url: expect.stringMatching(new RegExp(`^http://storage\\.test/storage/upload/${enc(key('shape.png'))}\\?`)),
      method: 'PUT',
      headers: { 'Content-Type': 'image/png' },
      expiresAt: Math.floor(clock.now() / 1000) * 1000 + 120_000,
    });
    const params = new URL(signed.url).searchParams;
    expect(params.get('type')).toBe('image/png');
    expect(params.get('max')).toBe('1000');
    expect(params.get('storage')).toBe('storages.Default');
  });

  it('a good upload lands, is downloadable, and records the signer as uploader', async () => {
    const data = Buffer.from(`png bytes ${t.prefix}`);
    const signed = await sign(key('good.png'));
    const res = await t.http.put(local(signed.url)).set(signed.headers).send(data);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      name: key('good.png'),
      md5: md5(data),
      size: data.length,
      type: 'image/png',
      uploadUser: 'bob',
      fileName: 'good.png',
      storeFullName: 'storages.Default',
    });
    const down = await t.http
      .get(`/storage/files/${enc(key('good.png'))}`)
      .set('Authorization', t.auth)
      .expect(200);
    expect(md5(down.body as Buffer)).toBe(md5(data));
  });

  type Case = [
    string,
    (signed: SignedUpload) => { url: string; type?: string; body?: Buffer; chunked?: boolean },
    number,
  ];
  const body = Buffer.alloc(500, 7);
  const refusals: Case[] = [
    [
      'a tampered signature',
      (s) => ({ url: withParam(s.url, 'sig', tamper(new URL(s.url).searchParams.get('sig')!)) }),
      403,
    ],
    ['no signature', (s) => ({ url: withParam(s.url, 'sig', null) }), 403],
    ['another key', (s) => ({ url: local(s.url).replace('/victim.png?', '/victim2.png?') }), 403],
    ['a widened size', (s) => ({ url: withParam(s.url, 'max', '65536') }), 403],
    [
      'a stretched expiry',
      (s) => ({ url: withParam(s.url, 'exp', String(Number(new URL(s.url).searchParams.get('exp')) + 3600)) }),
      403,
    ],
    [
      'another content type in the URL',
      (s) => ({ url: withParam(s.url, 'type', 'text/html'), type: 'text/html' }),
      403,
    ],
    ['another storage', (s) => ({ url: withParam(s.url, 'storage', 'storages.Other') }), 403],
    ['a wrong Content-Type header', (s) => ({ url: local(s.url), type: 'text/html' }), 403],
    ['no Content-Type header', (s) => ({ url: local(s.url), type: '' }), 403],
    ['a declared size over the bound', (s) => ({ url: local(s.url), body: Buffer.alloc(1001, 1) }), 413],
    ['a streamed size over the bound', (s) => ({ url: local(s.url), body: Buffer.alloc(5000, 1), chunked: true }), 413],
  ];

  it.each(refusals)('refuses %s (%#) with nothing written', async (_label, tamper, status) => {
    const signed = await sign(key('victim.png'), 'image/png', { maxSize: 1000 });
    const attempt = tamper(signed);
    const before = listFiles(root);
    const res = await send(t, attempt.url, attempt.body ?? body, attempt.type ?? 'image/png', attempt.chunked);
    expect(res.status).toBe(status);
    expect(JSON.parse(res.text).code).toBe(status === 413 ? 'E_TOO_LARGE' : 'E_SIGNATURE_INVALID');
    expect(listFiles(root)).toEqual(before);
    await t.http
      .get(`/storage/meta/${enc(key('victim.png'))}`)
      .set('Authorization', t.auth)
      .expect(404);
    await t.http
      .get(`/storage/meta/${enc(key('victim2.png'))}`)
      .set('Authorization', t.auth)
      .expect(404);
    // A refusal does not use the URL up: the genuine upload still works, once.
    const good = await send(t, local(signed.url), body, 'image/png');
    expect(good.status).toBe(201);
    await t.http
      .delete(`/storage/files/${enc(key('victim.png'))}`)
      .set('Authorization', t.auth)
      .expect(204);
  });

  it('refuses an expired URL', async () => {
    const signed = await sign(key('late.png'), 'image/png', { expiresIn: 60 });
    clock.advance(61);
    const before = listFiles(root);
    const res = await send(t, local(signed.url), body, 'image/png');
    expect(res.status).toBe(403);
    expect(JSON.parse(res.text).message).toContain('expired');
    expect(listFiles(root)).toEqual(before);
  });

  it('refuses a replay, sequential or concurrent: one upload per URL', async () => {
    const signed = await sign(key('once.png'));
    expect((await send(t, local(signed.url), body, 'image/png')).status).toBe(201);
    const replay = await send(t, local(signed.url), Buffer.from('replaced!'), 'image/png');
    expect(replay.status).toBe(403);
    expect(JSON.parse(replay.text).message).toContain('already used');
    const down = await t.http
      .get(`/storage/files/${enc(key('once.png'))}`)
      .set('Authorization', t.auth)
      .expect(200);
    expect(md5(down.body as Buffer)).toBe(md5(body));

    const twice = await sign(key('race.png'));
    const results = await Promise.all([1, 2, 3].map(() => send(t, local(twice.url), body, 'image/png')));
    expect(results.map((r) => r.status).sort()).toEqual([201, 403, 403]);
  });

  it('ignores unsigned parameters: md5 or expires added to the URL change nothing', async () => {
    const signed = await sign(key('plain.png'));
    const url = `${local(signed.url)}&md5=${md5(body)}&expires=1&name=elsewhere.png`;
    const res = await send(t, url, body, 'image/png');
    expect(res.status).toBe(201);
    expect(JSON.parse(res.text)).toMatchObject({ name: key('plain.png'), expires: null });
  });

  it('checks the sign request', async () => {
    const cases: Array<[Record<string, unknown>, number]> = [
      [{ file: key('a.png') }, 400],
      [{ file: key('a.png'), contentType: 'not a type' }, 400],
      [{ file: '../escape.png', contentType: 'image/png' }, 400],
      [{ file: key('a.png'), contentType: 'image/png', maxSize: 65 * 1024 + 1 }, 400],
      [{ file: key('a.png'), contentType: 'image/png', expiresIn: 8 * 86400 }, 400],
      [{ file: key('a.png'), contentType: 'image/png', storage: 'storages.Nope' }, 400],
    ];
    for (const [payload, status] of cases) {
      const res = await t.http.post('/storage/sign').set('Authorization', t.auth).send(payload);
      expect([payload, res.status]).toEqual([payload, status]);
    }
    await t.http
      .post('/storage/sign')
      .send({ file: key('a.png'), contentType: 'image/png' })
      .expect(401);
  });

  describe('on a backend with presigned URLs', () => {
    let driver: StorageDriver;
    const issued: string[] = [];

    beforeAll(() => {
      // A stand-in for a cloud driver's signUpload: the client then writes the staged key itself.
      driver = t.service.instance().driver;
      driver.signUpload = async (stagedKey: string, options: SignUploadOptions) => {
        issued.push(stagedKey);
        return {
          url: `https://bucket.example/${stagedKey}`,
          method: 'PUT',
          headers: { 'Content-Type': options.contentType },
          expiresAt: clock.now() + options.expiresIn * 1000,
        };
      };
    });
    afterAll(() => {
      delete driver.signUpload;
    });

    const directUpload = async (data: Buffer) => {
      await driver.put(issued[issued.length - 1], Readable.from([data]));
    };

    it('signs a staging key, and complete records the upload under the asked key', async () => {
      const data = Buffer.from(`direct ${t.prefix}`);
      const signed = await sign(key('direct.png'));
      expect(signed.url).toMatch(/^https:\/\/bucket\.example\/\.uploads\/[\w-]{22}\.png$/);
      await directUpload(data);
      const res = await t.http
        .post('/storage/sign/complete')
        .set('Authorization', `Bearer ${OTHER_TOKEN}`)
        .send({ file: key('direct.png') });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ name: key('direct.png'), md5: md5(data), uploadUser: 'bob', type: 'image/png' });
      expect(listFiles(root).filter((f) => f.startsWith('.uploads'))).toEqual([]);
      await t.http
        .post('/storage/sign/complete')
        .set('Authorization', `Bearer ${OTHER_TOKEN}`)
        .send({ file: key('direct.png') })
        .expect(404);
    });

    it('refuses to complete an oversized upload, and removes it', async () => {
      await sign(key('huge.png'), 'image/png', { maxSize: 100 });
      await directUpload(Buffer.alloc(101, 1));
      const res = await t.http
        .post('/storage/sign/complete')
        .set('Authorization', `Bearer ${OTHER_TOKEN}`)
        .send({ file: key('huge.png') });
      expect(res.status).toBe(413);
      expect(listFiles(root).filter((f) => f.startsWith('.uploads') || f.includes('huge'))).toEqual([]);
    });

    it('completes only the signer’s own upload, and only once something was uploaded', async () => {
      await sign(key('mine.png'));
      const early = await t.http
        .post('/storage/sign/complete')
        .set('Authorization', `Bearer ${OTHER_TOKEN}`)
        .send({ file: key('mine.png') });
      expect(early.status).toBe(404);
      await directUpload(Buffer.from('mine'));
      await t.http
        .post('/storage/sign/complete')
        .set('Authorization', t.auth)
        .send({ file: key('mine.png') })
        .expect(404);
      await t.http
        .post('/storage/sign/complete')
        .set('Authorization', `Bearer ${OTHER_TOKEN}`)
        .send({ file: key('mine.png') })
        .expect(201);
    });
  });
});

/** A PUT sent by hand, so the Content-Type (or its absence) and chunking are exactly as given. */
async function send(t: TestApp, url: string, body: Buffer, type: string, chunked = false) {
  const http = await import('node:http');
  const { port } = t.app.getHttpServer().address() as { port: number };
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const headers: Record<string, string> = type ? { 'Content-Type': type } : {};
    if (!chunked) headers['Content-Length'] = String(body.length);
    const req = http.request({ host: '127.0.0.1', port, method: 'PUT', path: url, headers }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    if (chunked) {
      for (let i = 0; i < body.length; i += 1024) req.write(body.subarray(i, i + 1024));
      req.end();
    } else {
      req.end(body);
    }
  });
}
