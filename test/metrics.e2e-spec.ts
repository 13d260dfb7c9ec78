import * as fs from 'node:fs';
import * as path from 'node:path';
import { MetricsServer } from '../src/app/metrics-server';
import { photoJpeg, pixelBombPng } from './harness/images';
import { enc, FakeClock, isolatedStorage, keyState } from './harness/lifecycle';
import { movement, parseMetrics, sum } from './harness/metrics';
import { freePort } from './harness/peers/ports';
import { s3Instance } from './harness/peers/instances';
import { createTestApp, type TestApp } from './harness/test-app';

/**
 * The metrics an operator reads at `GET /metrics`, each moved by the real work it counts: bytes
 * by storage instance, backend failures, thumbnails, sweeps and reconciliations. (Database
 * failures: test/metrics-database.e2e-spec.ts; requests and errors: test/observability.e2e-spec.ts.)
 */
describe('metrics of the work done', () => {
  const GRACE = 600;
  const clock = new FakeClock();
  const storage = isolatedStorage();
  let t: TestApp;

  beforeAll(async () => {
    const closedPort = await freePort();
    const refused = s3Instance(
      { endpoint: `http://127.0.0.1:${closedPort}`, credentials: { accessKeyId: 'k', secretAccessKey: 's' } },
      'b',
      { timeoutMs: 1000 },
    );
    t = await createTestApp({
      clock,
      config: {
        ...storage.config,
        storages: { ...(storage.config.storages as object), 'storages.Refused': refused },
        rateLimit: { thumbnail: { limit: 1, ttlSeconds: 60 } },
      },
      env: { ORPHAN_GRACE_SECONDS: String(GRACE) },
    });
  });
  afterAll(async () => {
    await t.close();
    storage.remove();
  });

  const key = (name: string) => `${t.prefix}/${name}`;
  const instanceLabel = (name: string) => `instance="${name}"`;

  function put(k: string, body: string | Buffer, query = '') {
    return t.http
      .put(`/storage/files/${enc(k)}${query}`)
      .set('Authorization', t.auth)
      .set('Content-Type', 'application/octet-stream')
      .send(body);
  }

  it('counts bytes in and out by storage instance', async () => {
    const body = 'bytes of the isolated instance';
    let answered = 0;
    const moved = await movement(t, async () => {
      answered = Buffer.byteLength((await put(key('bytes.txt'), body).expect(201)).text);
      const got = await t.http
        .get(`/storage/files/${enc(key('bytes.txt'))}`)
        .set('Authorization', t.auth)
        .expect(200);
      expect(got.text).toBe(body);
      await t.http.get(`/storage/files/${enc(key('bytes.txt'))}`).expect(401);
    });
    expect(moved('storage_http_bytes_in_total', instanceLabel(storage.name))).toBe(body.length);
    // Requests by their route's pattern, never by key (the module's middleware for the route set it): the raw
    // upload too, though it is answered ahead of Nest.
    const route = 'route="/storage/files/*path"';
    expect(moved('storage_http_requests_total', 'method="PUT"', route, 'status="201"')).toBe(1);
    expect(moved('storage_http_bytes_in_total', route, instanceLabel(storage.name))).toBe(body.length);
    // The file downloaded, and the record the upload answered with.
    expect(moved('storage_http_bytes_out_total', instanceLabel(storage.name))).toBe(body.length + answered);
    // The refused request named no instance: its error body is counted under `none`.
    expect(moved('storage_http_bytes_out_total', instanceLabel('none'))).toBeGreaterThan(0);
    expect(moved('storage_http_bytes_out_total', instanceLabel('storages.Refused'))).toBe(0);

    const multipart = await movement(t, () =>
      t.http
        .post('/storage/files')
        .set('Authorization', t.auth)
        .field('name', key('form.txt'))
        .attach('file', Buffer.from(body), 'form.txt')
        .expect(201),
    );
    // The whole form body: the file's bytes and the parts around them.
    expect(multipart('storage_http_bytes_in_total', instanceLabel(storage.name))).toBeGreaterThan(body.length);
    expect(multipart('storage_http_bytes_in_total', instanceLabel('none'))).toBe(0);
  });

  it('counts a backend that refuses connections by instance, operation and code, and a missing object not', async () => {
    const body = 'to a backend that is down';
    const down = await movement(t, () => put(key('down.txt'), body, '?storage=storages.Refused').expect(503));
    expect(
      down(
        'storage_backend_failures_total',
        instanceLabel('storages.Refused'),
        'operation="put"',
        'code="E_BACKEND_UNAVAILABLE"',
      ),
    ).toBe(1);
    expect(down('storage_http_bytes_in_total', instanceLabel('storages.Refused'))).toBe(body.length);

    await put(key('gone.txt'), 'removed behind the service').expect(201);
    const objectKey = (await keyState(t, key('gone.txt'), storage.name)).records[0].objectKey;
    fs.rmSync(path.join(storage.root, objectKey));
    const missing = await movement(t, () =>
      t.http
        .get(`/storage/files/${enc(key('gone.txt'))}`)
        .set('Authorization', t.auth)
        .expect(404),
    );
    expect(missing('storage_backend_failures_total', instanceLabel(storage.name))).toBe(0);
    expect(missing('storage_errors_total', 'code="E_NOT_FOUND"')).toBe(1);
  });

  it('counts a thumbnail render, then a cache hit, then refusals by reason', async () => {
    await put(key('photo.jpg'), await photoJpeg(200, 150)).expect(201);
    await put(key('bomb.png'), pixelBombPng()).expect(201);
    await put(key('notes.txt'), 'not an image').expect(201);
    const thumbnail = (k: string, query = 'width=64', auth = true) => {
      const req = t.http.get(`/storage/thumbnail/${enc(k)}?${query}`);
      return auth ? req.set('Authorization', t.auth) : req;
    };

    const rendered = await movement(t, () => thumbnail(key('photo.jpg')).expect(200));
    expect(rendered('storage_thumbnail_renders_total', 'stored="true"')).toBe(1);
    expect(rendered('storage_thumbnail_render_duration_seconds_count')).toBe(1);
    expect(rendered('storage_thumbnail_render_duration_seconds_sum')).toBeGreaterThan(0);
    expect(rendered('storage_thumbnail_cache_hits_total')).toBe(0);

    const hit = await movement(t, () => thumbnail(key('photo.jpg')).expect(200));
    expect(hit('storage_thumbnail_cache_hits_total')).toBe(1);
    expect(hit('storage_thumbnail_renders_total')).toBe(0);

    const refused = await movement(t, async () => {
      await thumbnail(key('notes.txt')).expect(415);
      await thumbnail(key('bomb.png')).expect(413);
      await thumbnail(key('photo.jpg'), 'width=abc').expect(400);
      // Anonymous: the first is served (from the stored derivative), the second is past the limit of 1.
      await thumbnail(key('photo.jpg'), 'width=64', false).expect(200);
      await thumbnail(key('photo.jpg'), 'width=64', false).expect(429);
    });
    expect(refused('storage_thumbnail_refusals_total', 'reason="not_an_image"')).toBe(1);
    expect(refused('storage_thumbnail_refusals_total', 'reason="too_many_pixels"')).toBe(1);
    expect(refused('storage_thumbnail_refusals_total', 'reason="bad_parameters"')).toBe(1);
    expect(refused('storage_thumbnail_refusals_total', 'reason="rate_limited"')).toBe(1);
    expect(refused('storage_thumbnail_refusals_total')).toBe(4);
  });

  it('counts what a sweep removed, and its run and duration', async () => {
    await put(key('expiring.txt'), 'expires in a minute', '?expires=60').expect(201);
    await put(key('kept.txt'), 'kept').expect(201);
    clock.advance(120);
    const moved = await movement(t, () =>
      t.http.post(`/storage/admin/sweep?storage=${storage.name}`).set('Authorization', t.auth).expect(200),
    );
    expect(moved('storage_sweeper_runs_total', 'outcome="ok"')).toBe(1);
    expect(moved('storage_sweeper_runs_total', 'outcome="failed"')).toBe(0);
    expect(moved('storage_sweeper_run_duration_seconds_count')).toBe(1);
    expect(moved('storage_sweeper_items_total', 'action="records_expired"')).toBe(1);
    expect(moved('storage_sweeper_items_total', 'action="objects_removed"')).toBe(1);
    expect(moved('storage_sweeper_items_total', 'action="failures"')).toBe(0);
    await t.http
      .get(`/storage/meta/${enc(key('expiring.txt'))}`)
      .set('Authorization', t.auth)
      .expect(404);
    await t.http
      .get(`/storage/meta/${enc(key('kept.txt'))}`)
      .set('Authorization', t.auth)
      .expect(200);
  });

  it('counts what a reconciliation removed, and its run and duration', async () => {
    const orphan = path.join(storage.root, key('orphan.bin'));
    fs.mkdirSync(path.dirname(orphan), { recursive: true });
    fs.writeFileSync(orphan, 'no record points here');
    const mtime = (clock.now() - (GRACE + 60) * 1000) / 1000;
    fs.utimesSync(orphan, mtime, mtime);
    const moved = await movement(t, () =>
      t.http.post(`/storage/admin/reconcile?storage=${storage.name}`).set('Authorization', t.auth).expect(200),
    );
    expect(fs.existsSync(orphan)).toBe(false);
    expect(moved('storage_reconciler_runs_total', 'outcome="ok"')).toBe(1);
    expect(moved('storage_reconciler_run_duration_seconds_count')).toBe(1);
    expect(moved('storage_reconciler_items_total', 'action="orphans_removed"')).toBe(1);
    // The object removed behind the service's back in an earlier test is reported as missing.
    expect(moved('storage_reconciler_items_total', 'action="missing_objects"')).toBe(1);
    expect(moved('storage_reconciler_items_total', 'action="pins_released"')).toBe(0);
  });
});

describe('METRICS_PORT and METRICS_TOKEN', () => {
  const TOKEN = 'metrics-scrape-token';
  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

  it('serves /metrics on its own port only, with the token, and closes that port on shutdown', async () => {
    const t = await createTestApp({ env: { METRICS_PORT: '0', METRICS_TOKEN: TOKEN } });
    let closed = false;
    try {
      const port = t.app.get(MetricsServer).port;
      expect(port).toBeGreaterThan(0);
      const url = `http://127.0.0.1:${port}/metrics`;
      await t.http.get('/metrics').set(bearer(TOKEN)).expect(404);
      expect((await fetch(url)).status).toBe(401);
      expect((await fetch(url, { headers: bearer('wrong') })).status).toBe(401);
      expect((await fetch(url, { headers: { Authorization: TOKEN } })).status).toBe(401);
      expect((await fetch(`http://127.0.0.1:${port}/other`, { headers: bearer(TOKEN) })).status).toBe(404);
      await t.http.get(`/storage/files/${t.prefix}/x.txt`).expect(401);
      const res = await fetch(url, { headers: bearer(TOKEN) });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/plain');
      const metrics = parseMetrics(await res.text());
      expect(sum(metrics, 'storage_errors_total', 'code="E_UNAUTHORIZED"')).toBe(1);
      await t.close();
      closed = true;
      await expect(fetch(url, { headers: bearer(TOKEN) })).rejects.toThrow();
    } finally {
      if (!closed) await t.close();
    }
  });

  it('without METRICS_PORT, METRICS_TOKEN guards /metrics on the main port', async () => {
    const t = await createTestApp({ env: { METRICS_TOKEN: TOKEN } });
    try {
      expect(t.app.get(MetricsServer).port).toBeUndefined();
      const refused = await t.http.get('/metrics').expect(401);
      expect(refused.body).toMatchObject({ code: 'E_UNAUTHORIZED' });
      await t.http.get('/metrics').set(bearer('wrong-token')).expect(401);
      const res = await t.http.get('/metrics').set(bearer(TOKEN)).expect(200);
      expect(res.text).toContain('storage_http_requests_total');
    } finally {
      await t.close();
    }
  });
});
