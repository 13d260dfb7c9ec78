import request from 'supertest';
import { FILE_MANAGER_CSP } from '../src/storage/http/file-manager.controller';
import { createTestApp, type TestApp } from './harness/test-app';

/** The file manager page as served: public, under the route prefix, with a strict policy. */
describe('file manager page (served files)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  }, 60_000);
  afterAll(() => t?.close());

  it('redirects the standalone root and {prefix}/ui to {prefix}/ui/', async () => {
    await t.http.get('/').expect(302).expect('Location', '/storage/ui/');
    await t.http.get('/storage/ui?x=1').expect(301).expect('Location', '/storage/ui/?x=1');
  });

  it('serves the page, its script and its style without a token, each under the strict CSP', async () => {
    const page = await t.http.get('/storage/ui/').expect(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.text).toContain('<script src="app.js" defer></script>');
    expect(page.text).not.toMatch(/<script>|<style|style=/);
    for (const [name, type] of [
      ['app.js', 'text/javascript; charset=utf-8'],
      ['app.css', 'text/css; charset=utf-8'],
    ]) {
      const res = await t.http.get(`/storage/ui/${name}`).expect(200);
      expect(res.headers['content-type']).toBe(type);
      expect(Number(res.headers['content-length'])).toBeGreaterThan(100);
    }
    expect(page.headers['content-security-policy']).toBe(FILE_MANAGER_CSP);
    expect(FILE_MANAGER_CSP).toContain("default-src 'self'");
    expect(FILE_MANAGER_CSP).toContain("frame-ancestors 'none'");
    expect(FILE_MANAGER_CSP).not.toContain('unsafe');
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.headers['x-content-type-options']).toBe('nosniff');
  });

  it('sends the script gzipped to clients that take it, each representation with its own tag', async () => {
    const plain = await t.http.get('/storage/ui/app.js').set('Accept-Encoding', 'identity').expect(200);
    expect(plain.headers['content-encoding']).toBeUndefined();
    for (const accept of ['gzip', 'br, gzip;q=0.5', 'deflate, GZIP']) {
      const zipped = await t.http.get('/storage/ui/app.js').set('Accept-Encoding', accept).expect(200);
      expect(zipped.headers['content-encoding']).toBe('gzip');
      expect(zipped.headers.vary).toBe('Accept-Encoding');
      expect(zipped.text).toBe(plain.text);
      expect(Number(zipped.headers['content-length'])).toBeLessThan(plain.text.length / 2);
      expect(zipped.headers.etag).not.toBe(plain.headers.etag);
    }
    const refused = await t.http.get('/storage/ui/app.js').set('Accept-Encoding', 'gzip;q=0, br').expect(200);
    expect(refused.headers['content-encoding']).toBeUndefined();
  });

  it('answers a revalidation with 304 and an unknown file with 404', async () => {
    const first = await t.http.get('/storage/ui/app.js').expect(200);
    await t.http.get('/storage/ui/app.js').set('If-None-Match', first.headers.etag).expect(304);
    const missing = await t.http.get('/storage/ui/other.js').expect(404);
    expect(missing.body.code).toBe('E_NOT_FOUND');
    await request(t.app.getHttpServer()).get('/storage/ui/..%2Fmain.ts').expect(404);
  });
});
