import { DataSource } from 'typeorm';
import { FileEntity } from '../src/storage/database/entities/file.entity';
import { expiredRecordsQuery } from '../src/storage/jobs/lifecycle.service';
import { listPageQuery, listWindowQuery } from '../src/storage/records/file-records';
import { LIVE_RECORD_SQL, LiveRecordLookup } from '../src/storage/records/live-record-lookup';
import { createTestApp, type TestApp } from './harness/test-app';

/**
 * The plans of the queries whose cost must not grow with the table, on the database the suite
 * runs against (SQLite, or MySQL/MariaDB with DB_URL): a listing page and the sweeper's claim
 * query each read one index in the order they answer, with no sort (SQLite: no "TEMP B-TREE";
 * MySQL: no "filesort", no "temporary"). The table holds thousands of rows of a store of its
 * own first, so that the planner has a real choice; they expire far in the future (no other
 * test's sweep takes them) and the plans are asked for as of a later time.
 */
describe('query plans', () => {
  const mysql = Boolean(process.env.DB_URL);
  const ROWS = 4000;
  const BASE = 4_000_000_000_000;
  let t: TestApp;
  let db: DataSource;
  let store: string;

  beforeAll(async () => {
    t = await createTestApp({});
    db = t.app.get(DataSource);
    store = `storages.Plans${t.prefix.replace(/\W/g, '')}`;
    await insertRows(db, store, ROWS, BASE);
    if (mysql) await db.query('ANALYZE TABLE storage_files');
  });
  afterAll(async () => {
    await db.query('DELETE FROM storage_files WHERE storeFullName = ?', [store]);
    await t.close();
  });

  async function plan(sql: string, params: unknown[]): Promise<Array<{ index: string | null; notes: string }>> {
    if (mysql) {
      const rows: Array<{ key: string | null; Extra: string | null }> = await db.query(`EXPLAIN ${sql}`, params);
      return rows.map((r) => ({ index: r.key, notes: r.Extra ?? '' }));
    }
    const rows: Array<{ detail: string }> = await db.query(`EXPLAIN QUERY PLAN ${sql}`, params);
    return rows.map((r) => ({ index: /USING (?:COVERING )?INDEX (\w+)/.exec(r.detail)?.[1] ?? null, notes: r.detail }));
  }

  function expectIndexOrder(steps: Array<{ index: string | null; notes: string }>, index: string): void {
    expect(steps.map((s) => s.index)).toEqual([index]);
    for (const step of steps) expect(step.notes).not.toMatch(/TEMP B-TREE|filesort|temporary/i);
  }

  it.each([
    ['the first page', 0],
    ['a page deep in the listing', ROWS - 50],
  ])('a listing page (%s) reads IDX_storage_files_store_id in order, with no sort', async (_label, skip) => {
    const after = skip === 0 ? 0 : Number((await db.query(idAt, [store, skip]))[0].id);
    const query = listPageQuery(db.getRepository(FileEntity), { store, after, now: BASE, limit: 100, prefix: '' });
    const [sql, params] = query.getQueryAndParameters();
    expectIndexOrder(await plan(sql, params), 'IDX_storage_files_store_id');
  });

  it("a listing page's window end reads IDX_storage_files_store_id in order, with no sort", async () => {
    const query = listWindowQuery(db.getRepository(FileEntity), { store, after: 0, span: 1010 });
    const [sql, params] = query.getQueryAndParameters();
    expectIndexOrder(await plan(sql, params), 'IDX_storage_files_store_id');
  });

  (mysql ? it.skip : it)('on SQLite, a listing page with a prefix does not sort either', async () => {
    const query = listPageQuery(db.getRepository(FileEntity), { store, after: 0, now: BASE, limit: 100, prefix: 'p/' });
    const [sql, params] = query.getQueryAndParameters();
    expectIndexOrder(await plan(sql, params), 'IDX_storage_files_store_id');
  });

  it.each([
    [false, 'IDX_storage_files_expires'],
    [true, 'IDX_storage_files_store_expires'],
  ])("the sweeper's claim query (by storage: %s) reads %s in order, with no sort", async (byStorage, index) => {
    const now = BASE + ROWS * 1000;
    const params = [now, BASE + 10_000, BASE + 10_000, 0, ...(byStorage ? [store] : []), 100];
    expectIndexOrder(await plan(expiredRecordsQuery(byStorage, mysql), params), index);
  });

  const idAt = 'SELECT id FROM storage_files WHERE storeFullName = ? ORDER BY id LIMIT 1 OFFSET ?';

  it('the live-record read (every download, preview and meta) reads IDX_storage_files_key, with no sort', async () => {
    const hash = (7).toString(16).padStart(32, '0');
    expectIndexOrder(await plan(LIVE_RECORD_SQL, [hash, BASE]), 'IDX_storage_files_key');
  });

  it('the live-record read sees a record once its transaction commits, never before', async () => {
    const lookup = t.app.get(LiveRecordLookup);
    const hash = `c${t.prefix.replace(/\W/g, '')}`.padEnd(32, '0').slice(0, 32);
    const runner = db.createQueryRunner();
    await runner.startTransaction();
    try {
      await runner.query(
        'INSERT INTO storage_files (keyHash, objectKey, objectHash, md5, uid, name, size, type, expires, fileName, fullName, uploadTime, storeFullName) ' +
          "VALUES (?, 'o', ?, ?, 'u', 'uncommitted.txt', 1, 'text/plain', NULL, 'f.txt', 'f', 0, ?)",
        [hash, hash, hash, store],
      );
      expect(await lookup.find(hash, Date.now())).toBeNull();
      await runner.commitTransaction();
    } finally {
      if (runner.isTransactionActive) await runner.rollbackTransaction();
      await runner.release();
    }
    expect(await lookup.find(hash, Date.now())).toMatchObject({
      keyHash: hash,
      name: 'uncommitted.txt',
      size: 1,
      expires: null,
    });
  });
});

/** `count` records of `store` in one multi-row INSERT per thousand, expiring a second apart from `base`. */
async function insertRows(db: DataSource, store: string, count: number, base: number): Promise<void> {
  for (let from = 0; from < count; from += 1000) {
    const rows = Array.from({ length: Math.min(1000, count - from) }, (_, i) => from + i);
    const values = rows.map(() => `(?, ?, ?, ?, 'u', ?, 1, 'text/plain', ?, 'f.txt', 'f', 0, ?)`).join(', ');
    await db.query(
      'INSERT INTO storage_files (keyHash, objectKey, objectHash, md5, uid, name, size, type, expires, fileName, fullName, uploadTime, storeFullName) ' +
        `VALUES ${values}`,
      rows.flatMap((i) => {
        const hash = i.toString(16).padStart(32, '0');
        return [hash, `p/${i}`, hash, hash, `p/${i}`, base + i * 1000, store];
      }),
    );
  }
}
