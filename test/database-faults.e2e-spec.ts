import { OwnMariaDb } from './harness/peers/mariadb';
import { createTestApp, listFiles, type TestApp } from './harness/test-app';

/**
 * A database that is down (killed: connections refused) or hung (SIGSTOP: the port accepts,
 * nothing answers) is a 503 `E_DATABASE_UNAVAILABLE` within `DB_TIMEOUT_MS` on every route,
 * readiness goes red, and service resumes once it is back, without a restart. Runs on a MariaDB
 * of its own (started here, on a spare port) on both the SQLite and the MySQL run.
 */
const TIMEOUT_MS = 1500;
// The timeout, plus the pool's second wait when it must open a new connection, plus slack for 2 cores.
const BOUND_MS = 2 * TIMEOUT_MS + 3000;

jest.setTimeout(120_000);

describe('database faults (a MariaDB of the test own)', () => {
  let db: OwnMariaDb;
  let t: TestApp;
  const enc = (key: string) => key.split('/').map(encodeURIComponent).join('/');
  const key = (name: string) => `${t.prefix}/${name}`;

  beforeAll(async () => {
    db = await OwnMariaDb.start();
    t = await createTestApp({ env: { DB_URL: db.url, DB_TIMEOUT_MS: String(TIMEOUT_MS) } });
  });

  afterAll(async () => {
    db?.resume();
    await t?.close();
    await db?.remove();
  });

  async function timed<T>(run: () => PromiseLike<T>): Promise<{ res: T; ms: number }> {
    const started = Date.now();
    const res = await run();
    return { res, ms: Date.now() - started };
  }

  /** Every kind of route answers 503 E_DATABASE_UNAVAILABLE within the bound, and readiness is red. */
  async function expectUnavailable(): Promise<void> {
    const calls: Array<[string, () => PromiseLike<{ status: number; body: Record<string, unknown> }>]> = [
      ['meta', () => t.http.get(`/storage/meta/${enc(key('kept.txt'))}`).set('Authorization', t.auth)],
      ['download', () => t.http.get(`/storage/files/${enc(key('kept.txt'))}`).set('Authorization', t.auth)],
      ['list', () => t.http.get(`/storage/files?prefix=${t.prefix}`).set('Authorization', t.auth)],
      [
        'upload',
        () =>
          t.http
            .put(`/storage/files/${enc(key('during-outage.txt'))}`)
            .set('Authorization', t.auth)
            .send('written while the database was away'),
      ],
      ['delete', () => t.http.delete(`/storage/files/${enc(key('kept.txt'))}`).set('Authorization', t.auth)],
    ];
    for (const [name, call] of calls) {
      const { res, ms } = await timed(call);
      expect({ name, status: res.status, code: res.body.code }).toEqual({
        name,
        status: 503,
        code: 'E_DATABASE_UNAVAILABLE',
      });
      expect(ms).toBeLessThan(BOUND_MS);
    }
    const { res: ready, ms } = await timed(() => t.http.get('/health/ready'));
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ status: 'error', error: { database: { status: 'down' } } });
    expect(ms).toBeLessThan(BOUND_MS);
  }

  async function expectRecovered(before: string[]): Promise<void> {
    const deadline = Date.now() + 30_000;
    let ready = await t.http.get('/health/ready');
    while (ready.status !== 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      ready = await t.http.get('/health/ready');
    }
    expect(ready.body).toMatchObject({ status: 'ok', info: { database: { status: 'up' } } });
    const meta = await t.http.get(`/storage/meta/${enc(key('kept.txt'))}`).set('Authorization', t.auth);
    expect(meta.status).toBe(200);
    // The upload refused during the outage left neither a record nor an object.
    const lost = await t.http.get(`/storage/meta/${enc(key('during-outage.txt'))}`).set('Authorization', t.auth);
    expect(lost.status).toBe(404);
    await t.http.post('/storage/admin/reconcile').set('Authorization', t.auth);
    // Objects are stored under keys of their own: compare the whole folder with before the outage.
    expect(listFiles(t.dataDir).sort()).toEqual(before);
    const again = await t.http
      .put(`/storage/files/${enc(key('after.txt'))}`)
      .set('Authorization', t.auth)
      .send('after');
    expect(again.status).toBe(201);
  }

  it('is ready with the database up', async () => {
    const put = await t.http
      .put(`/storage/files/${enc(key('kept.txt'))}`)
      .set('Authorization', t.auth)
      .send('kept');
    expect(put.status).toBe(201);
    const ready = await t.http.get('/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ok', info: { database: { status: 'up' } } });
  });

  it('answers 503 within the timeout while the database is down (refused), and recovers', async () => {
    const before = listFiles(t.dataDir).sort();
    await db.kill();
    try {
      await expectUnavailable();
    } finally {
      await db.restart();
    }
    await expectRecovered(before);
  });

  it('answers 503 within the timeout while the database hangs (SIGSTOP), and recovers', async () => {
    const before = listFiles(t.dataDir).sort();
    db.pause();
    try {
      await expectUnavailable();
    } finally {
      db.resume();
    }
    await expectRecovered(before);
  });
});
