import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { binaryParser } from './harness/images';
import { createTestApp, listFiles, OTHER_TOKEN, type TestApp } from './harness/test-app';
import { enc, eventually, md5 } from './harness/util';

describe('files API (upload, download, meta, list, delete)', () => {
  let t: TestApp;
  let root: string;

  beforeAll(async () => {
    t = await createTestApp({ env: { MAX_UPLOAD_SIZE: '64KB' } });
    root = path.join(t.dataDir, 'files');
  });
  afterAll(() => t.close());

  const key = (name: string) => `${t.prefix}/${name}`;

  it('uploads multipart, downloads the same bytes, serves meta, then deletes', async () => {
    const data = Buffer.from('hello, storage\n');
    const up = await t.http
      .post('/storage/files')
      .set('Authorization', t.auth)
      .field('name', key('docs/hello.txt'))
      .attach('file', data, { filename: 'Hällo wörld.txt', contentType: 'text/plain' })
      .expect(201);
    expect(up.body).toMatchObject({
      md5: md5(data),
      name: key('docs/hello.txt'),
      size: data.length,
      type: 'text/plain',
      expires: null,
      fileName: 'Hällo wörld.txt',
      fullName: 'storages.LocalType',
      storeFullName: 'storages.Default',
      uploadUser: 'alice',
      updateUserId: 'alice',
      retentionPeriod: null,
      url: `http://storage.test/storage/preview/${enc(key('docs/hello.txt'))}?storage=storages.Default`,
    });
    expect(typeof up.body.id).toBe('number');
    expect(Math.abs(up.body.uploadTime - Date.now())).toBeLessThan(60_000);
    expect(up.body.uid).toBe(md5(key('docs/hello.txt')));

    const down = await t.http
      .get(`/storage/files/${enc(key('docs/hello.txt'))}`)
      .set('Authorization', t.auth)
      .expect(200);
    expect(down.text).toBe(data.toString());
    expect(down.headers['content-length']).toBe(String(data.length));
    expect(down.headers['content-disposition']).toContain("filename*=UTF-8''H%C3%A4llo%20w%C3%B6rld.txt");
    expect(down.headers['etag']).toBe(`"${md5(data)}"`);
    expect(down.headers['x-content-type-options']).toBe('nosniff');

    const head = await t.http
      .head(`/storage/files/${enc(key('docs/hello.txt'))}`)
      .set('Authorization', t.auth)
      .expect(200);
    expect(head.headers['content-length']).toBe(String(data.length));

    const meta = await t.http
      .get(`/storage/meta/${enc(key('docs/hello.txt'))}`)
      .set('Authorization', t.auth)
      .expect(200);
    expect(meta.body).toEqual(up.body);

    await t.http
      .delete(`/storage/files/${enc(key('docs/hello.txt'))}`)
      .set('Authorization', t.auth)
      .expect(204);
    const gone = await t.http
      .get(`/storage/files/${enc(key('docs/hello.txt'))}`)
      .set('Authorization', t.auth)
      .expect(404);
    expect(gone.body).toEqual({ statusCode: 404, code: 'E_NOT_FOUND', message: expect.any(String) });
    await t.http
      .delete(`/storage/files/${enc(key('docs/hello.txt'))}`)
      .set('Authorization', t.auth)
      .expect(404);
    expect(listFiles(root).filter((f) => f.startsWith(t.prefix))).toEqual([]);
  });

  it('stores a multipart upload without a name at a key of its own, never over a file of the same name', async () => {
    const upload = (data: string) =>
      t.http
        .post('/storage/files')
        .set('Authorization', t.auth)
        .attach('file', Buffer.from(data), { filename: 'report.pdf', contentType: 'application/pdf' })
        .expect(201);
    const [first, second] = [(await upload('%PDF first')).body, (await upload('%PDF second')).body];
    expect(first.name).toMatch(/^uploads\/[0-9a-z]+\.pdf$/);
    expect(second.name).not.toBe(first.name);
    expect([first.fileName, first.uid]).toEqual(['report.pdf', md5('report.pdf')]);
    for (const [record, body] of [
      [first, '%PDF first'],
      [second, '%PDF second'],
    ]) {
      const res = await t.http
        .get(`/storage/files/${record.name}`)
        .set('Authorization', t.auth)
        .responseType('blob')
        .expect(200);
      expect(res.body.toString()).toBe(body);
      expect(res.headers['content-disposition']).toMatch(/^attachment; filename="report.pdf"/);
    }
  });

  it('answers liveness without a login, and unknown routes with the same JSON errors', async () => {
    expect((await t.http.get('/health/live').expect(200)).body).toMatchObject({ status: 'ok' });
    const unknown = await t.http.get('/nowhere').expect(404);
    expect(unknown.body).toMatchObject({ statusCode: 404, code: 'E_NOT_FOUND' });
    expect(unknown.headers['x-content-type-options']).toBe('nosniff');
  });

  it('stores raw PUT bodies under {md5}{suffix} when md5 is given, and checks it', async () => {
    const data = Buffer.from('{"a":1}');
    const res = await t.http
      .put(`/storage/files/${enc(key('x/report.JSON'))}?md5=${md5(data)}`)
      .set('Authorization', t.auth)
      .set('Content-Type', 'application/json')
      .send(data.toString())
      .expect(201);
    expect(res.body).toMatchObject({ name: `${md5(data)}.json`, fileName: 'report.JSON', type: 'application/json' });
    const back = await t.http
      .get(`/storage/files/${md5(data)}.json`)
      .set('Authorization', t.auth)
      .expect(200);
    expect(back.text).toBe('{"a":1}');

    const before = listFiles(root);
    const wrong = await t.http
      .put(`/storage/files/${enc(key('y/other.txt'))}?md5=${md5('something else')}`)
      .set('Authorization', t.auth)
      .set('Content-Type', 'text/plain')
      .send('not what the md5 says')
      .expect(400);
    expect(wrong.body.code).toBe('E_MD5_MISMATCH');
    expect(listFiles(root)).toEqual(before);
    await t.http
      .get(`/storage/files/${md5('something else')}.txt`)
      .set('Authorization', t.auth)
      .expect(404);
  });

  it('replaces the file when the same path is uploaded again without md5', async () => {
    const k = enc(key('replace/me.bin'));
    await t.http.put(`/storage/files/${k}`).set('Authorization', t.auth).send(Buffer.from('one')).expect(201);
    const second = await t.http
      .put(`/storage/files/${k}`)
      .set('Authorization', t.auth)
      .send(Buffer.from('two!'))
      .expect(201);
    const meta = await t.http.get(`/storage/meta/${k}`).set('Authorization', t.auth).expect(200);
    expect(meta.body.id).toBe(second.body.id);
    const res = await t.http
      .get(`/storage/files/${k}`)
      .set('Authorization', t.auth)
      .buffer(true)
      .parse(binaryParser)
      .expect(200);
    expect((res.body as Buffer).toString()).toBe('two!');
  });

  it('lists records by prefix, paginated with a cursor', async () => {
    for (const n of ['a', 'b', 'c']) {
      await t.http
        .put(`/storage/files/${enc(key(`list/${n}.txt`))}`)
        .set('Authorization', t.auth)
        .send(n)
        .expect(201);
    }
    await t.http
      .put(`/storage/files/${enc(key('listing-not/x.txt'))}`)
      .set('Authorization', t.auth)
      .send('x')
      .expect(201);
    const page1 = await t.http
      .get('/storage/files')
      .query({ prefix: key('list/'), limit: 2 })
      .set('Authorization', t.auth)
      .expect(200);
    expect(page1.body.items.map((r: { name: string }) => r.name)).toEqual([key('list/a.txt'), key('list/b.txt')]);
    expect(page1.body.nextCursor).toEqual(expect.any(String));
    const page2 = await t.http
      .get('/storage/files')
      .query({ prefix: key('list/'), limit: 2, cursor: page1.body.nextCursor })
      .set('Authorization', t.auth)
      .expect(200);
    expect(page2.body).toMatchObject({ items: [{ name: key('list/c.txt') }], nextCursor: null });
  });

  describe('refuses bad input with a 4xx and leaves nothing behind', () => {
    const hostile: Array<[string, string]> = [
      ['traversal', '..%2F..%2Fescaped.txt'],
      ['traversal in the middle', 'a/..%2F..%2F..%2Fescaped.txt'],
      ['dot segment', 'a/%2E/b.txt'],
      ['absolute', '%2Fetc%2Fpasswd'],
      ['NUL', 'a%00b.txt'],
      ['newline', 'a%0Ab.txt'],
      ['escape', 'a%1Bb.txt'],
      ['backslash', '..%5C..%5Cwin.txt'],
      ['drive letter', 'C%3A%5Cwin.txt'],
      ['overlong segment', `${'x'.repeat(300)}.txt`],
      ['overlong path', Array.from({ length: 120 }, () => 'abcdefghi').join('/')],
      ['empty segment', 'a//b.txt'],
    ];
    it.each(hostile)('%s path → 400 E_INVALID_PATH', async (_label, raw) => {
      const before = listFiles(t.dataDir);
      const put = await t.http.put(`/storage/files/${raw}`).set('Authorization', t.auth).send('evil');
      expect(put.status).toBe(400);
      expect(put.body.code).toBe('E_INVALID_PATH');
      const multipart = await t.http
        .post('/storage/files')
        .set('Authorization', t.auth)
        .field('name', decodeURIComponent(raw))
        .attach('file', Buffer.from('evil'), 'evil.txt');
      expect(multipart.status).toBe(400);
      expect(multipart.body.code).toBe('E_INVALID_PATH');
      expect(listFiles(t.dataDir)).toEqual(before);
      expect(JSON.stringify(put.body)).not.toContain(t.dataDir);
    });

    it('unknown storage → 400 E_UNKNOWN_STORAGE naming the configured ones', async () => {
      const res = await t.http
        .put(`/storage/files/${enc(key('u.txt'))}?storage=storages.Nope`)
        .set('Authorization', t.auth)
        .send('x');
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ code: 'E_UNKNOWN_STORAGE' });
      expect(res.body.message).toContain('storages.Default');
    });

    it('missing file part → 400', async () => {
      const res = await t.http.post('/storage/files').set('Authorization', t.auth).field('name', key('nofile.txt'));
      expect(res.status).toBe(400);
      expect(res.body.message).toContain('file');
    });

    it('fields after the file part → 400 and nothing stored', async () => {
      const before = listFiles(root);
      const res = await t.http
        .post('/storage/files')
        .set('Authorization', t.auth)
        .attach('file', Buffer.from('late'), 'late.txt')
        .field('name', key('late.txt'));
      expect(res.status).toBe(400);
      expect(listFiles(root)).toEqual(before);
      await t.http.get('/storage/meta/late.txt').set('Authorization', t.auth).expect(404);
    });

    it('a body past the size limit → 413, declared or streamed, and nothing stored', async () => {
      const before = listFiles(root);
      const big = Buffer.alloc(65 * 1024, 1);
      const declared = await t.http
        .put(`/storage/files/${enc(key('big.bin'))}`)
        .set('Authorization', t.auth)
        .send(big);
      expect(declared.status).toBe(413);
      expect(declared.body.code).toBe('E_TOO_LARGE');
      const multipart = await t.http.post('/storage/files').set('Authorization', t.auth).attach('file', big, 'big.bin');
      expect(multipart.status).toBe(413);
      const chunked = await rawRequest(t, 'PUT', `/storage/files/${enc(key('big2.bin'))}`, big, { chunked: true });
      expect(chunked.status).toBe(413);
      expect(listFiles(root)).toEqual(before);
      await t.http
        .get(`/storage/meta/${enc(key('big.bin'))}`)
        .set('Authorization', t.auth)
        .expect(404);
    });

    it('missing or wrong token → 401 on every route', async () => {
      const routes: Array<[string, string]> = [
        ['get', '/storage/files'],
        ['get', '/storage/files/a.txt'],
        ['head', '/storage/files/a.txt'],
        ['get', '/storage/meta/a.txt'],
        ['delete', '/storage/files/a.txt'],
        ['put', '/storage/files/a.txt'],
        ['post', '/storage/files'],
      ];
      for (const [method, url] of routes) {
        const none = await (t.http as any)[method](url);
        expect([method, url, none.status]).toEqual([method, url, 401]);
        expect(none.headers['x-content-type-options']).toBe('nosniff');
        const wrong = await (t.http as any)[method](url).set('Authorization', 'Bearer nope');
        expect([method, url, wrong.status]).toEqual([method, url, 401]);
      }
      expect(listFiles(root).some((f) => f === 'a.txt')).toBe(false);
    });

    it('records the token name as uploadUser', async () => {
      const res = await t.http
        .put(`/storage/files/${enc(key('bob.txt'))}`)
        .set('Authorization', `Bearer ${OTHER_TOKEN}`)
        .send('bob')
        .expect(201);
      expect(res.body.uploadUser).toBe('bob');
    });

    it('an aborted upload leaves no temp file and no record', async () => {
      const before = listFiles(root);
      await abortedUpload(t, `/storage/files/${enc(key('aborted.bin'))}`, 60 * 1024, 20 * 1024);
      await eventually(() => listFiles(root).length === before.length);
      expect(listFiles(root)).toEqual(before);
      await t.http
        .get(`/storage/meta/${enc(key('aborted.bin'))}`)
        .set('Authorization', t.auth)
        .expect(404);
    });
  });
});

function address(t: TestApp): AddressInfo {
  return t.app.getHttpServer().address() as AddressInfo;
}

/** A request written by hand: chunked bodies and exact headers that supertest would not send. */
function rawRequest(
  t: TestApp,
  method: string,
  url: string,
  body: Buffer,
  options: { chunked?: boolean; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const { port } = address(t);
    const req = http.request(
      { host: '127.0.0.1', port, method, path: url, headers: { Authorization: t.auth, ...options.headers } },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    if (options.chunked) {
      for (let i = 0; i < body.length; i += 8192) req.write(body.subarray(i, i + 8192));
      req.end();
    } else {
      req.end(body);
    }
  });
}

/** Declares `declared` bytes, sends `sent`, then drops the connection. */
function abortedUpload(t: TestApp, url: string, declared: number, sent: number): Promise<void> {
  return new Promise((resolve) => {
    const { port } = address(t);
    const req = http.request({
      host: '127.0.0.1',
      port,
      method: 'PUT',
      path: url,
      headers: { Authorization: t.auth, 'Content-Length': String(declared) },
    });
    req.on('error', () => resolve());
    req.write(Buffer.alloc(sent, 7), () => {
      setTimeout(() => {
        req.destroy();
        setTimeout(resolve, 200);
      }, 100);
    });
  });
}
