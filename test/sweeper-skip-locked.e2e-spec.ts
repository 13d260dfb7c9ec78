import { createConnection, type Connection } from 'mysql2/promise';
import { LifecycleService, type SweepReport } from '../src/storage/jobs/lifecycle.service';
import { keyHash } from '../src/storage/ledger/object-ledger';
import { enc, FakeClock, isolatedStorage, keyState, stored } from './harness/lifecycle';
import { createTestApp, type TestApp } from './harness/test-app';

/**
 * `FOR UPDATE SKIP LOCKED`, really skipping (MySQL/MariaDB: SQLite has one connection and no row
 * locks, so this suite is skipped there): a key whose row another connection holds locked is left
 * for a later run at once, not waited for (InnoDB would wait 50 s by default), and the sweeper
 * reports it as busy, not as failed.
 */
const onMysql = process.env.DB_URL ? describe : describe.skip;

onMysql('sweeper and a row lock held elsewhere (MySQL/MariaDB)', () => {
  const clock = new FakeClock();
  const storage = isolatedStorage();
  let t: TestApp;
  let other: Connection;

  beforeAll(async () => {
    t = await createTestApp({ clock, config: storage.config });
    other = await createConnection(process.env.DB_URL as string);
  });
  afterAll(async () => {
    await other?.end();
    await t?.close();
    storage.remove();
  });

  const sweep = () => t.app.get(LifecycleService).sweepExpired({ storage: storage.name });
  const put = async (k: string, query = '') =>
    (
      await t.http
        .put(`/storage/files/${enc(k)}${query}`)
        .set('Authorization', t.auth)
        .set('Content-Type', 'text/plain')
        .send(`body of ${k}`)
        .expect(201)
    ).body as { id: number };

  /** Locks `k`'s object row from the other connection, as another replica's transaction would. */
  async function holdRowLock(k: string): Promise<() => Promise<void>> {
    await other.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED');
    await other.beginTransaction();
    const [rows] = await other.query('SELECT id FROM storage_objects WHERE keyHash = ? FOR UPDATE', [
      keyHash(storage.name, k),
    ]);
    expect(rows).toHaveLength(1);
    return () => other.rollback();
  }

  /** `sweep()` within `ms`, or the reason it did not finish (it waited on the lock). */
  async function sweepWithin(ms: number): Promise<SweepReport | 'still waiting'> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'still waiting'>((resolve) => (timer = setTimeout(() => resolve('still waiting'), ms)));
    const running = sweep();
    running.catch(() => undefined);
    try {
      return await Promise.race([running, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  it('skips a key another connection holds, at once, and removes it on a later run', async () => {
    const keys = [0, 1, 2].map((i) => `${t.prefix}/held/f-${i}.txt`);
    const ids = [];
    for (const k of keys) ids.push((await put(k, '?expires=30')).id);
    clock.advance(31);

    const release = await holdRowLock(keys[1]);
    let report: SweepReport | 'still waiting';
    const started = Date.now();
    try {
      report = await sweepWithin(5000);
    } finally {
      await release();
    }
    expect(report).not.toBe('still waiting');
    const first = report as SweepReport;
    expect(Date.now() - started).toBeLessThan(5000);
    expect({ skipped: first.skipped, failed: first.failed }).toEqual({ skipped: 1, failed: 0 });
    expect(first.removed.map((r) => r.id).sort()).toEqual([ids[0], ids[2]].sort());
    expect((await keyState(t, keys[1], storage.name)).records.map((r) => r.id)).toEqual([ids[1]]);
    expect(stored(t, keys[1], storage.root)).toBe(true);

    const second = await sweep();
    expect(second.removed.map((r) => r.id)).toEqual([ids[1]]);
    expect(second.skipped).toBe(0);
    expect(stored(t, keys[1], storage.root)).toBe(false);
    expect(await keyState(t, keys[1], storage.name)).toEqual({ records: [], row: null, pins: 0 });
  });
});
