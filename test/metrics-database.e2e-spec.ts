import { ExpirySweeperJob } from '../src/storage/jobs/expiry-sweeper.job';
import { enc } from './harness/util';
import { movement } from './harness/metrics';
import { OwnMariaDb } from './harness/peers/mariadb';
import { createTestApp, type TestApp } from './harness/test-app';

jest.setTimeout(120_000);

/**
 * `storage_database_failures_total`: a request answered 503 `E_DATABASE_UNAVAILABLE` counts once,
 * by kind (`unavailable`: the server is down; `timeout`: it hangs), and so does a scheduled run
 * that failed for the same reason. On a MariaDB of the test's own, stopped and paused for real.
 */
describe('metrics of database failures (a MariaDB of the test own)', () => {
  let db: OwnMariaDb;
  let t: TestApp;
  const meta = () => t.http.get(`/storage/meta/${enc(`${t.prefix}/m.txt`)}`).set('Authorization', t.auth);

  beforeAll(async () => {
    db = await OwnMariaDb.start();
    t = await createTestApp({ env: { DB_URL: db.url, DB_TIMEOUT_MS: '1500' } });
    await t.http
      .put(`/storage/files/${enc(`${t.prefix}/m.txt`)}`)
      .set('Authorization', t.auth)
      .send('m')
      .expect(201);
  });

  afterAll(async () => {
    db?.resume();
    await t?.close();
    await db?.remove();
  });

  it('counts a request refused while the database is down, and a failed sweep, as unavailable', async () => {
    await db.kill();
    try {
      const moved = await movement(t, async () => {
        expect((await meta()).body).toMatchObject({ statusCode: 503, code: 'E_DATABASE_UNAVAILABLE' });
        const sweep = await t.http.post('/storage/admin/sweep').set('Authorization', t.auth);
        expect(sweep.body).toMatchObject({ statusCode: 503, code: 'E_DATABASE_UNAVAILABLE' });
        // The scheduled run (no HTTP request): logged, and counted here.
        await t.app.get(ExpirySweeperJob).run();
      });
      expect(moved('storage_database_failures_total', 'kind="unavailable"')).toBe(3);
      expect(moved('storage_database_failures_total', 'kind="timeout"')).toBe(0);
      expect(moved('storage_sweeper_runs_total', 'outcome="failed"')).toBe(2);
      expect(moved('storage_sweeper_runs_total', 'outcome="ok"')).toBe(0);
      expect(moved('storage_sweeper_run_duration_seconds_count')).toBe(2);
    } finally {
      await db.restart();
    }
    await waitForMeta(200);
  });

  it('counts a request refused while the database hangs as a timeout', async () => {
    db.pause();
    try {
      const moved = await movement(t, async () => {
        expect((await meta()).body).toMatchObject({ statusCode: 503, code: 'E_DATABASE_UNAVAILABLE' });
      });
      expect(moved('storage_database_failures_total', 'kind="timeout"')).toBe(1);
      expect(moved('storage_database_failures_total', 'kind="unavailable"')).toBe(0);
    } finally {
      db.resume();
    }
  });

  /** Retries `meta` until it answers `status` (the pool reconnects on its own once the server is back). */
  async function waitForMeta(status: number): Promise<void> {
    const deadline = Date.now() + 30_000;
    while ((await meta()).status !== status) {
      if (Date.now() > deadline) throw new Error(`meta did not answer ${status} within 30 s`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
});
