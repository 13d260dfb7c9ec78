import type { AddressInfo } from 'node:net';
import { DataSource } from 'typeorm';
import { QUOTED_INPUT_MAX } from '../src/storage/errors/storage.error';
import { binaryParser } from './harness/images';
import { rawRequest } from './harness/raw-http';
import { createTestApp, type TestApp } from './harness/test-app';
import { enc, md5 } from './harness/util';

/**
 * What a hostile client sends that no route may store or echo: media types a header cannot
 * carry, text that is not well-formed Unicode, control characters in file names, names in the
 * md5 namespace without md5, keys the drivers reserve, unbounded input in error messages, and
 * markup declared as a PDF. Also: prefix listings are case-sensitive (SQLite and MariaDB).
 */
describe('input hardening', () => {
  let t: TestApp;
  let base: string;

  beforeAll(async () => {
    t = await createTestApp();
    base = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
  });
  afterAll(() => t.close());

  const key = (name: string) => `${t.prefix}/${name}`;
  const expectCode = async (work: Promise<unknown>, code: string) =>
    expect(
      await work.then(
        () => 'resolved',
        (e: { code?: string }) => e.code,
      ),
    ).toBe(code);

  describe('media types (RFC 9110, visible ASCII) on every way in', () => {
    const bad = [
      ['a control character', 'text/plain; a=\u0001'],
      ['a line break', 'text/plain\r\nX-Injected: 1'],
      ['non-Latin-1 characters', 'text/plain; name=\u65e5\u672c'],
      ['a Latin-1 letter', 'text/plain; name=caf\u00e9'],
      ['no subtype', 'text'],
      ['a lone surrogate', 'text/plain; a=\ud800'],
    ];

    it.each(bad)('multipart contentType field with %s: 400, nothing stored', async (_label, type) => {
      const res = await t.http
        .post('/storage/files')
        .set('Authorization', t.auth)
        .field('name', key('mt/multipart.txt'))
        .field('contentType', type)
        .attach('file', Buffer.from('x'), 'x.txt');
      expect({ status: res.status, code: res.body.code }).toEqual({ status: 400, code: 'E_INVALID_ARGUMENT' });
      await t.http
        .get(`/storage/meta/${enc(key('mt/multipart.txt'))}`)
        .set('Authorization', t.auth)
        .expect(404);
    });

    // A lone surrogate cannot be percent-encoded: the query never carries one.
    it.each(bad.filter(([label]) => label !== 'a lone surrogate'))(
      'PUT ?contentType= with %s: 400',
      async (_label, type) => {
        const res = await t.http
          .put(`/storage/files/${enc(key('mt/put.txt'))}?contentType=${encodeURIComponent(type)}`)
          .set('Authorization', t.auth)
          .send('x');
        expect({ status: res.status, code: res.body.code }).toEqual({ status: 400, code: 'E_INVALID_ARGUMENT' });
      },
    );

    it.each(bad)('uploadByFile with %s: E_INVALID_ARGUMENT', async (_label, type) => {
      await expectCode(
        t.service.uploadByFile({ file: key('mt/api.txt'), data: 'x', contentType: type }),
        'E_INVALID_ARGUMENT',
      );
    });

    it.each(bad)('/sign with %s: 400', async (_label, type) => {
      const res = await t.http
        .post('/storage/sign')
        .set('Authorization', t.auth)
        .send({ file: key('mt/signed.txt'), contentType: type });
      expect({ status: res.status, code: res.body.code }).toEqual({ status: 400, code: 'E_INVALID_ARGUMENT' });
    });

    it('PUT Content-Type header with a Latin-1 byte: 400 (the client can send it, a header cannot echo it safely)', async () => {
      const res = await rawRequest(`${base}/storage/files/${enc(key('mt/header.txt'))}`, {
        method: 'PUT',
        headers: { Authorization: t.auth, 'Content-Type': 'text/plain; name=caf\u00e9' },
        body: Buffer.from('x'),
      });
      expect(res.status).toBe(400);
    });

    it('serves a type stored before types were checked as application/octet-stream, not a 500', async () => {
      await t.http
        .put(`/storage/files/${enc(key('mt/legacy.txt'))}`)
        .set('Authorization', t.auth)
        .send('x')
        .expect(201);
      await t.app
        .get(DataSource)
        .query('UPDATE storage_files SET type = ? WHERE name = ?', [
          'text/plain; a=\u0001\u65e5',
          key('mt/legacy.txt'),
        ]);
      for (const route of ['files', 'preview']) {
        const res = await t.http.get(`/storage/${route}/${enc(key('mt/legacy.txt'))}`).set('Authorization', t.auth);
        expect({ route, status: res.status, type: res.headers['content-type'] }).toEqual({
          route,
          status: 200,
          type: 'application/octet-stream',
        });
      }
    });

    it('keeps valid types with parameters, and reads them back', async () => {
      const type = 'text/plain; charset=utf-8; title="a \\"quoted\\" value"';
      await t.http
        .put(`/storage/files/${enc(key('mt/ok.txt'))}`)
        .set('Authorization', t.auth)
        .set('Content-Type', type)
        .send('ok')
        .expect(201);
      const down = await t.http
        .get(`/storage/files/${enc(key('mt/ok.txt'))}`)
        .set('Authorization', t.auth)
        .expect(200);
      expect(down.headers['content-type']).toBe(type);
    });
  });

  describe('text that is not well-formed Unicode', () => {
    it.each([
      ['file', { file: 'a\ud800.txt', contentType: 'text/plain' }, 'E_INVALID_PATH'],
      ['file (low half)', { file: 'x/\udc00', contentType: 'text/plain' }, 'E_INVALID_PATH'],
      ['contentType', { file: 'a.txt', contentType: 'text/plain; a=\udfff' }, 'E_INVALID_ARGUMENT'],
      ['storage', { file: 'a.txt', contentType: 'text/plain', storage: 'storages.\ud800' }, 'E_UNKNOWN_STORAGE'],
    ])('/sign with a lone surrogate in %s: 400', async (_label, payload, code) => {
      const res = await t.http
        .post('/storage/sign')
        .set('Authorization', t.auth)
        .set('Content-Type', 'application/json')
        .send(JSON.stringify(payload));
      expect({ status: res.status, code: res.body.code }).toEqual({ status: 400, code });
    });

    it('uploadByFile refuses a lone surrogate in the path and in fileName', async () => {
      await expectCode(t.service.uploadByFile({ file: key('u\ud800.txt'), data: 'x' }), 'E_INVALID_PATH');
      await expectCode(
        t.service.uploadByFile({ file: key('u.txt'), data: 'x', fileName: 'n\udc00.txt' }),
        'E_INVALID_ARGUMENT',
      );
    });
  });

  describe('fileName loses control characters', () => {
    it('from the multipart filename (C0, DEL, C1), keeping letters of every script', async () => {
      const boundary = 'b0undary';
      const name = 'R\u00e9sum\u00e9\u0001\u007f\u0085 \u65e5\u672c\u001b[31m.txt';
      const body = Buffer.concat([
        Buffer.from(
          `--${boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\n${key('fn/a.txt')}\r\n` +
            `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename*=UTF-8''${encodeURIComponent(name)}\r\n` +
            `Content-Type: text/plain\r\n\r\nhello\r\n--${boundary}--\r\n`,
        ),
      ]);
      const res = await rawRequest(`${base}/storage/files`, {
        method: 'POST',
        headers: { Authorization: t.auth, 'Content-Type': `multipart/form-data; boundary=${boundary}` },
        body,
      });
      expect(res.status).toBe(201);
      expect(JSON.parse(res.body.toString()).fileName).toBe('R\u00e9sum\u00e9 \u65e5\u672c[31m.txt');
    });

    it('from uploadByFile', async () => {
      const record = await t.service.uploadByFile({ file: key('fn/b.txt'), data: 'x', fileName: 'a\u0007b\r\n.txt' });
      expect(record.fileName).toBe('ab.txt');
    });
  });

  describe('md5-shaped names are for md5 uploads only', () => {
    const body = 'the real content';
    const hash = md5(body);

    it('a plain PUT, a multipart upload, uploadByFile and /sign to {md5}.ext are 400 and say to pass md5', async () => {
      const put = await t.http
        .put(`/storage/files/${hash}.pdf`)
        .set('Authorization', t.auth)
        .set('Content-Type', 'application/pdf')
        .send('squatted bytes');
      const multipart = await t.http
        .post('/storage/files')
        .set('Authorization', t.auth)
        .field('name', `${hash}.pdf`)
        .attach('file', Buffer.from('squatted bytes'), 'x.pdf');
      const sign = await t.http
        .post('/storage/sign')
        .set('Authorization', t.auth)
        .send({ file: `${hash}.pdf`, contentType: 'application/pdf' });
      for (const res of [put, multipart, sign]) {
        expect({ status: res.status, code: res.body.code }).toEqual({ status: 400, code: 'E_INVALID_ARGUMENT' });
        expect(res.body.message).toContain('pass md5');
      }
      await expectCode(t.service.uploadByFile({ file: `${hash}.pdf`, data: 'squatted' }), 'E_INVALID_ARGUMENT');
      await expectCode(t.service.getSignUrl(hash, 'application/pdf'), 'E_INVALID_ARGUMENT');
    });

    it('md5 uploads still write there, and the bytes match the name', async () => {
      const up = await t.http
        .put(`/storage/files/${hash}.pdf?md5=${hash}`)
        .set('Authorization', t.auth)
        .set('Content-Type', 'application/pdf')
        .send(body)
        .expect(201);
      expect(up.body.name).toBe(`${hash}.pdf`);
      const byFile = await t.service.uploadByFile({ file: 'whatever.pdf', data: body, md5: hash });
      expect(byFile.name).toBe(`${hash}.pdf`);
      const down = await t.http
        .get(`/storage/files/${hash}.pdf`)
        .set('Authorization', t.auth)
        .buffer(true)
        .parse(binaryParser)
        .expect(200);
      expect(md5(down.body as Buffer)).toBe(hash);
    });

    it('names that only look similar stay plain names', async () => {
      for (const name of [key(`${hash}.pdf`), `${hash.toUpperCase()}.pdf`, `${hash}-copy.pdf`]) {
        await t.http
          .put(`/storage/files/${enc(name)}`)
          .set('Authorization', t.auth)
          .send('x')
          .expect(201);
      }
    });
  });

  describe('/sign refuses keys the drivers reserve', () => {
    it.each([
      ['.~tmp.1234'],
      ['a/.~tmp.5678'],
      ['a/report.~v1abc.pdf'],
      ['.thumbnails/x/y.webp'],
      ['.Thumbnails/x.png'],
      ['.uploads/abc.bin'],
    ])('%s: 400', async (file) => {
      const res = await t.http
        .post('/storage/sign')
        .set('Authorization', t.auth)
        .send({ file, contentType: 'text/plain' });
      expect({ status: res.status, code: res.body.code }).toEqual({ status: 400, code: 'E_INVALID_PATH' });
      await expectCode(t.service.getSignUrl(file, 'text/plain'), 'E_INVALID_PATH');
    });
  });

  describe('prefix listings are case-sensitive', () => {
    it('lists only the keys that start with the prefix exactly', async () => {
      const names = [
        'Doc.txt',
        'doc.txt',
        'DOC/x.txt',
        'docs/y.txt',
        'd%c.txt',
        'd_c.txt',
        '\u00c9t\u00e9.txt',
        '\u00e9t\u00e9.txt',
      ];
      for (const name of names) {
        await t.http
          .put(`/storage/files/${enc(key(`case/${name}`))}`)
          .set('Authorization', t.auth)
          .send('x')
          .expect(201);
      }
      const listed = async (prefix: string) => {
        const res = await t.http
          .get(`/storage/files?prefix=${encodeURIComponent(key(`case/${prefix}`))}&limit=1000`)
          .set('Authorization', t.auth)
          .expect(200);
        return res.body.items.map((i: { name: string }) => i.name.slice(key('case/').length)).sort();
      };
      expect(await listed('doc')).toEqual(['doc.txt', 'docs/y.txt']);
      expect(await listed('D')).toEqual(['DOC/x.txt', 'Doc.txt']);
      expect(await listed('DOC/')).toEqual(['DOC/x.txt']);
      expect(await listed('d%')).toEqual(['d%c.txt']);
      expect(await listed('d_')).toEqual(['d_c.txt']);
      expect(await listed('\u00e9')).toEqual(['\u00e9t\u00e9.txt']);
      expect(await listed('\u00c9')).toEqual(['\u00c9t\u00e9.txt']);
    });
  });

  describe('error messages', () => {
    it('quote client input only truncated', async () => {
      const long = Array.from({ length: 9 }, () => 'k'.repeat(100)).join('/');
      const responses = [
        await t.http.get(`/storage/files/${enc(key(long))}`).set('Authorization', t.auth),
        await t.http.get(`/storage/meta/${enc(key(long))}`).set('Authorization', t.auth),
        await t.http.get(`/storage/files/a.txt?storage=storages.${'s'.repeat(2000)}`).set('Authorization', t.auth),
        await t.http.delete(`/storage/files/${enc(key(long))}`).set('Authorization', t.auth),
      ];
      for (const res of responses) {
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.body.message).toContain('…');
        expect(res.body.message.length).toBeLessThan(QUOTED_INPUT_MAX + 150);
      }
    });

    it('list the configured instances on authenticated routes only', async () => {
      const authed = await t.http.get('/storage/files/a.txt?storage=storages.Nope').set('Authorization', t.auth);
      expect({ status: authed.status, code: authed.body.code }).toEqual({ status: 400, code: 'E_UNKNOWN_STORAGE' });
      expect(authed.body.message).toContain('storages.Default');
      const publicRoutes = [
        await t.http.get(`/storage/preview/a.txt?storage=storages.${'s'.repeat(2000)}`),
        await t.http.get('/storage/preview/a.txt?storage=storages.Nope'),
        await t.http.head('/storage/preview/a.txt?storage=storages.Nope'),
        await t.http.get('/storage/thumbnail/a.png?storage=storages.Nope'),
      ];
      for (const res of publicRoutes) {
        expect(res.status).toBe(400);
        if (res.body.message !== undefined) {
          expect(res.body.code).toBe('E_UNKNOWN_STORAGE');
          expect(res.body.message).not.toContain('storages.Default');
          expect(res.body.message).not.toContain('configured');
          expect(res.body.message.length).toBeLessThan(QUOTED_INPUT_MAX + 150);
        }
      }
    });
  });

  describe('a PDF is inline only if its bytes are a PDF', () => {
    it.each([
      ['real.pdf', '%PDF-1.4\n%%EOF\n', 'inline'],
      ['fake.pdf', '<html><script>alert(document.domain)</script></html>', 'attachment'],
      ['plain.pdf', 'just some text, declared as a PDF', 'attachment'],
      ['empty.pdf', '', 'attachment'],
    ])('%s', async (name, bytes, disposition) => {
      await t.service.uploadByFile({ file: key(`pdf/${name}`), data: bytes, contentType: 'application/pdf' });
      const res = await t.http.get(`/storage/preview/${enc(key(`pdf/${name}`))}`).expect(200);
      expect(res.headers['content-disposition'].split(';')[0]).toBe(disposition);
      if (disposition === 'attachment') expect(res.headers['content-security-policy']).toBeDefined();
    });
  });
});
