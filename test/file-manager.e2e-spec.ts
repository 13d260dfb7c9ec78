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

  it('answers a revalidation with 304 and an unknown file with 404', async () => {
    const first = await t.http.get('/storage/ui/app.js').expect(200);
    await t.http.get('/storage/ui/app.js').set('If-None-Match', first.headers.etag).expect(304);
    const missing = await t.http.get('/storage/ui/other.js').expect(404);
    expect(missing.body.code).toBe('E_NOT_FOUND');
    await request(t.app.getHttpServer()).get('/storage/ui/..%2Fmain.ts').expect(404);
  });
});
