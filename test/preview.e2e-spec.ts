import { DataSource } from 'typeorm';
import { FileEntity } from '../src/storage/database/entities/file.entity';
import { binaryParser, transparentPng } from './harness/images';
import { createTestApp, type TestApp } from './harness/test-app';
import { enc, md5 } from './harness/util';

describe('preview and download over HTTP: one response layer', () => {
  let t: TestApp;
  const body = Buffer.from('0123456789abcdefghij'); // 20 bytes
  let textKey: string;

  beforeAll(async () => {
    t = await createTestApp();
    textKey = `${t.prefix}/range/digits.txt`;
    await t.service.uploadByFile({ file: textKey, data: body, contentType: 'text/plain' });
  });
  afterAll(() => t.close());

  const preview = (key: string) =>
    t.http
      .get(`/storage/preview/${enc(key)}`)
      .buffer(true)
      .parse(binaryParser);
  const download = (key: string) =>
    t.http
      .get(`/storage/files/${enc(key)}`)
      .set('Authorization', t.auth)
      .buffer(true)
      .parse(binaryParser);

  describe.each([
    ['preview', 'inline', (k: string) => preview(k)],
    ['download', 'attachment', (k: string) => download(k)],
  ])('%s', (_route, disposition, get) => {
    it('sends every validator and safety header, without a login for preview', async () => {
      const res = await get(textKey).expect(200);
      expect(res.body).toEqual(body);
      const meta = await t.service.getMeta(textKey);
      expect(res.headers).toMatchObject({
        'content-type': 'text/plain',
        'content-length': '20',
        etag: `"${md5(body)}"`,
        'last-modified': new Date(meta.uploadTime).toUTCString(),
        'accept-ranges': 'bytes',
        'x-content-type-options': 'nosniff',
        'content-security-policy': 'sandbox',
      });
      expect(res.headers['cache-control']).toEqual(expect.any(String));
      expect(res.headers['content-disposition']).toBe(
        `${disposition}; filename="digits.txt"; filename*=UTF-8''digits.txt`,
      );
    });

    it.each([
      ['bytes=0-0', 206, 'bytes 0-0/20', '0'],
      ['bytes=-1', 206, 'bytes 19-19/20', 'j'],
      ['bytes=5-', 206, 'bytes 5-19/20', '56789abcdefghij'],
      ['bytes=18-100', 206, 'bytes 18-19/20', 'ij'],
      ['bytes=-50', 206, 'bytes 0-19/20', body.toString()],
      ['bytes=19-19', 206, 'bytes 19-19/20', 'j'],
      ['bytes=20-', 416, 'bytes */20', null],
      ['bytes=25-30', 416, 'bytes */20', null],
      ['bytes=-0', 416, 'bytes */20', null],
      ['bytes=0-1,4-5', 200, undefined, body.toString()],
      ['bytes=5-2', 200, undefined, body.toString()],
      ['bytes=abc', 200, undefined, body.toString()],
      ['items=0-1', 200, undefined, body.toString()],
    ])('Range %s → %i', async (range, status, contentRange, text) => {
      const res = await get(textKey).set('Range', range);
      expect(res.status).toBe(status);
      expect(res.headers['content-range']).toBe(contentRange);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      if (text === null) {
        expect(JSON.parse(res.body.toString())).toMatchObject({ statusCode: 416, code: 'E_RANGE_NOT_SATISFIABLE' });
      } else {
        expect(res.body.toString()).toBe(text);
        expect(res.headers['content-length']).toBe(String(Buffer.byteLength(text)));
      }
    });

    it('answers conditional requests: 304 on a matching ETag or an unchanged date, 200 otherwise', async () => {
      const etag = `"${md5(body)}"`;
      const meta = await t.service.getMeta(textKey);
      const later = new Date(meta.uploadTime + 60_000).toUTCString();
      const earlier = new Date(meta.uploadTime - 60_000).toUTCString();
      const cases: Array<[Record<string, string>, number]> = [
        [{ 'If-None-Match': etag }, 304],
        [{ 'If-None-Match': `W/${etag}` }, 304],
        [{ 'If-None-Match': `"nope", ${etag}` }, 304],
        [{ 'If-None-Match': '*' }, 304],
        [{ 'If-None-Match': '"other"' }, 200],
        [{ 'If-Modified-Since': later }, 304],
        [{ 'If-Modified-Since': earlier }, 200],
        [{ 'If-None-Match': '"other"', 'If-Modified-Since': later }, 200],
      ];
      for (const [headers, status] of cases) {
        const res = await get(textKey).set(headers);
        expect([headers, res.status]).toEqual([headers, status]);
        if (status === 304) {
          expect(res.body).toEqual(Buffer.alloc(0));
          expect(res.headers.etag).toBe(etag);
        }
      }
      const stale = await get(textKey).set({ Range: 'bytes=0-0', 'If-Range': '"old"' });
      expect(stale.status).toBe(200);
      const fresh = await get(textKey).set({ Range: 'bytes=0-0', 'If-Range': etag });
      expect(fresh.status).toBe(206);
    });
  });

  it.each([
    ['preview', () => t.http.head(`/storage/preview/${enc(textKey)}`)],
    ['download', () => t.http.head(`/storage/files/${enc(textKey)}`).set('Authorization', t.auth)],
  ])('HEAD on %s: the GET headers, no body', async (_route, head) => {
    const res = await head().expect(200);
    expect(res.headers['content-length']).toBe('20');
    expect(res.headers.etag).toBe(`"${md5(body)}"`);
    expect(res.headers['accept-ranges']).toBe('bytes');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.text ?? '').toBe('');
    const ranged = await head().set('Range', 'bytes=-1').expect(206);
    expect(ranged.headers['content-range']).toBe('bytes 19-19/20');
  });

  describe('Content-Disposition with hostile names', () => {
    it.each([
      ['quotes', 'say "hi".txt', 'say _hi_.txt'],
      // The record keeps the name without its control characters (contentDisposition's own spec
      // covers CR/LF in a name given to it).
      ['CR/LF', 'a\r\nSet-Cookie: x=1.txt', 'aSet-Cookie: x=1.txt'],
      ['semicolon', 'a; filename=evil.html', 'a; filename=evil.html'],
      ['backslash and percent', 'a\\b%41.txt', 'a_b_41.txt'],
      ['non-ASCII', 'Überweisung März.pdf', '_berweisung M_rz.pdf'],
      ['CJK', '报告.txt', '__.txt'],
      ['emoji', '🎉 party 👨‍👩‍👧.txt', '__ party ________.txt'],
      ['decomposed accents', 'Cafe\u0301.txt', 'Caf_.txt'],
    ])('%s', async (label, fileName, ascii) => {
      const key = `${t.prefix}/names/${md5(label)}.txt`;
      await t.service.uploadByFile({ file: key, data: 'x', contentType: 'text/plain', fileName });
      for (const res of [await preview(key).expect(200), await download(key).expect(200)]) {
        const header = res.headers['content-disposition'] as string;
        expect(header).toMatch(/^(inline|attachment); filename="[\x20-\x7e]*"; filename\*=UTF-8''[A-Za-z0-9%!._~-]+$/);
        expect(header).toContain(`filename="${ascii}"`);
        const encoded = /filename\*=UTF-8''(.+)$/.exec(header)![1];
        expect(decodeURIComponent(encoded)).toBe(fileName.replace(/[\r\n]/g, '').normalize('NFC'));
        expect(res.headers['set-cookie']).toBeUndefined();
      }
    });
  });

  describe('never runs an uploaded script on the service origin', () => {
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.domain)"><circle r="9"/></svg>';
    const html = '<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>';
    const xhtml = '<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></html>';
    it.each([
      ['an SVG with onload', 'evil.svg', 'image/svg+xml', svg],
      ['an SVG declared as image/png', 'evil.png', 'image/png', svg],
      ['HTML declared as image/png', 'page.png', 'image/png', html],
      ['HTML declared as text/plain, after a BOM and blank lines', 'notes.txt', 'text/plain', `\ufeff\n\n  ${html}`],
      ['HTML in UTF-16 declared as image/gif', 'u16.gif', 'image/gif', Buffer.from(`\ufeff${html}`, 'utf16le')],
      ['XHTML', 'page.xhtml', 'application/xhtml+xml', xhtml],
      ['XML', 'data.xml', 'text/xml', '<?xml version="1.0"?><a/>'],
      ['HTML', 'page.html', 'text/html', html],
      ['JavaScript', 'app.js', 'text/javascript', 'alert(1)'],
      ['an unlisted type', 'thing.bin', 'application/x-unknown', 'plain bytes'],
    ])('%s: attachment, sandboxed, never sniffed', async (_label, name, contentType, data) => {
      const key = `${t.prefix}/xss/${name}`;
      await t.service.uploadByFile({ file: key, data, contentType });
      for (const res of [await preview(key).expect(200), await download(key).expect(200)]) {
        expect(res.headers['content-disposition']).toMatch(/^attachment;/);
        expect(res.headers['content-security-policy']).toBe('sandbox');
        expect(res.headers['x-content-type-options']).toBe('nosniff');
      }
    });

    it('serves allow-listed, inert content inline', async () => {
      const png = await transparentPng();
      const cases: Array<[string, string, Buffer | string, string | undefined]> = [
        ['ok.png', 'image/png', png, 'sandbox'],
        ['ok.txt', 'text/plain; charset=utf-8', 'just < text, <b not at the start', 'sandbox'],
        ['ok.pdf', 'application/pdf', '%PDF-1.4\n%%EOF\n', undefined],
      ];
      for (const [name, contentType, data, csp] of cases) {
        const key = `${t.prefix}/inline/${name}`;
        await t.service.uploadByFile({ file: key, data, contentType });
        const res = await preview(key).expect(200);
        expect([name, res.headers['content-disposition']]).toEqual([name, expect.stringMatching(/^inline;/)]);
        expect(res.headers['content-security-policy']).toBe(csp);
        expect(res.headers['content-type']).toBe(contentType);
      }
    });
  });

  describe('public, with the service rules', () => {
    it('needs no token, takes ?storage=, and answers 404 for missing and expired files', async () => {
      await preview(textKey).expect(200);
      const unknown = await t.http.get(`/storage/preview/${enc(textKey)}?storage=storages.Nope`).expect(400);
      expect(unknown.body.code).toBe('E_UNKNOWN_STORAGE');
      const missing = await t.http.get(`/storage/preview/${t.prefix}/nothing.txt`).expect(404);
      expect(missing.body.code).toBe('E_NOT_FOUND');
      expect(missing.headers['x-content-type-options']).toBe('nosniff');

      const key = `${t.prefix}/expiring.txt`;
      await t.service.uploadByFile({ file: key, data: 'soon gone', contentType: 'text/plain', expires: 3600 });
      await preview(key).expect(200);
      await t.app
        .get(DataSource)
        .getRepository(FileEntity)
        .update({ name: key }, { expires: Date.now() - 1 });
      await preview(key).expect(404);
      await t.http
        .get(`/storage/meta/${enc(key)}`)
        .set('Authorization', t.auth)
        .expect(404);
    });

    it('refuses the reserved thumbnail prefix as a path', async () => {
      const res = await t.http.get('/storage/preview/.thumbnails/x/y/z.webp').expect(400);
      expect(res.body.code).toBe('E_INVALID_PATH');
    });
  });
});
