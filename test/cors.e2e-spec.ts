import { createTestApp, type TestApp } from './harness/test-app';

const PAGE = 'https://files.example.test';

/** CORS on the module's routes (`CORS_ORIGINS`): preflights, exposed headers, refused origins. */
describe('CORS for browser pages', () => {
  let t: TestApp;
  let off: TestApp;

  beforeAll(async () => {
    [t, off] = await Promise.all([
      createTestApp({ env: { CORS_ORIGINS: `${PAGE}, https://other.example.test` } }),
      createTestApp(),
    ]);
  });
  afterAll(async () => {
    await Promise.all([t?.close(), off?.close()]);
  });

  it.each([
    ['POST', '/storage/sign/multipart', 'authorization, content-type'],
    ['PATCH', '/storage/tus/some-id', 'tus-resumable, upload-offset, content-type'],
    ['PUT', '/storage/files/a/b.txt', 'authorization, content-type'],
  ])('answers the preflight of %s %s for an allowed origin', async (method, path, headers) => {
    const res = await t.http
      .options(path)
      .set('Origin', PAGE)
      .set('Access-Control-Request-Method', method)
      .set('Access-Control-Request-Headers', headers)
      .expect(204);
    expect(res.headers['access-control-allow-origin']).toBe(PAGE);
    expect(res.headers['access-control-allow-methods']).toContain(method);
    for (const h of headers.split(', ')) expect(res.headers['access-control-allow-headers'].toLowerCase()).toContain(h);
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
    expect(res.headers['access-control-max-age']).toBe('600');
    expect(res.headers.vary).toContain('Origin');
  });

  it('lets an allowed page read the answer and the headers tus and the client need', async () => {
    const res = await t.http.get('/storage/instances').set('Origin', PAGE).set('Authorization', t.auth).expect(200);
    expect(res.headers['access-control-allow-origin']).toBe(PAGE);
    const exposed = res.headers['access-control-expose-headers'];
    for (const h of ['Location', 'Upload-Offset', 'ETag', 'Content-Range', 'Upload-Length', 'Tus-Resumable']) {
      expect(exposed).toContain(h);
    }
    // Errors too, so the page can read why (here: no token).
    const refused = await t.http.get('/storage/instances').set('Origin', PAGE).expect(401);
    expect(refused.headers['access-control-allow-origin']).toBe(PAGE);
  });

  it('gives another origin no CORS header and refuses its preflight', async () => {
    const pre = await t.http
      .options('/storage/sign')
      .set('Origin', 'https://evil.example.test')
      .set('Access-Control-Request-Method', 'POST')
      .expect(403);
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
    const res = await t.http
      .get('/storage/instances')
      .set('Origin', 'https://evil.example.test')
      .set('Authorization', t.auth);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('adds nothing when CORS is not configured', async () => {
    const res = await off.http.get('/storage/instances').set('Origin', PAGE).set('Authorization', off.auth).expect(200);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('leaves routes outside the prefix alone', async () => {
    const res = await t.http.get('/health/live').set('Origin', PAGE);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });
});
