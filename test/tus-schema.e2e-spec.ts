import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../src/app/database';
import { OwnMariaDb } from './harness/peers/mariadb';

const TABLES = ['storage_resumable_uploads', 'storage_resumable_chunks', 'storage_resumable_locks'];

/**
 * The resumable-upload tables as the migration makes them: they match their entities (TypeORM
 * finds nothing to change) on MariaDB, and the migration reverts and runs again on SQLite and
 * MariaDB. Each on a database of its own (reverting drops tables other test files use).
 * TypeORM's SQLite comparison reports every table of the project as changed, so the match is
 * checked on MariaDB only.
 */
describe('resumable upload tables', () => {
  let dir: string;
  let db: OwnMariaDb;
  const sources: Record<'sqlite' | 'mariadb', DataSource | undefined> = { sqlite: undefined, mariadb: undefined };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'storage-tus-schema-'));
    db = await OwnMariaDb.start();
    const env = { ...process.env, DATA_DIR: dir };
    for (const [kind, url] of [
      ['sqlite', ''],
      ['mariadb', db.url],
    ] as const) {
      const ds = new DataSource({ ...dataSourceOptions({ ...env, DB_URL: url }), migrationsRun: false } as never);
      await ds.initialize();
      await ds.runMigrations();
      sources[kind] = ds;
    }
  }, 60_000);
  afterAll(async () => {
    for (const ds of Object.values(sources)) await ds?.destroy();
    await db?.remove();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('match their entities on MariaDB', async () => {
    const queries = (await (sources.mariadb as DataSource).driver.createSchemaBuilder().log()).upQueries
      .map((q) => q.query)
      .filter((q) => q.includes('storage_resumable'))
      // TypeORM reports every nullable MySQL column as changed (its default NULL): noise, on every table.
      .filter((q) => !/^ALTER TABLE `\w+` CHANGE `(\w+)` `\1` [a-z]+(\(\d+\))? NULL$/.test(q));
    expect(queries).toEqual([]);
  });

  it.each(['sqlite', 'mariadb'] as const)('%s: the migration reverts and runs again', async (kind) => {
    const ds = sources[kind] as DataSource;
    const tables = async () => (await ds.createQueryRunner().getTables(TABLES)).length;
    expect(await tables()).toBe(3);
    // Back to before this migration (and any later one), then forward again.
    for (let i = 0; i < ds.migrations.length && (await tables()) > 0; i++) await ds.undoLastMigration();
    expect(await tables()).toBe(0);
    await ds.runMigrations();
    expect(await tables()).toBe(3);
  });
});
