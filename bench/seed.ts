/**
 * Fast seeding of many records, straight into the service's database (SQLite file or MariaDB):
 * a real upload is the template, and its rows in `storage_files` and `storage_objects` are
 * cloned with new names, key hashes and version keys (as `src/storage/keys` and the object ledger
 * make them), so each seeded record is one the service serves as it serves its own. Rows go in
 * large transactions (SQLite: one prepared statement; MariaDB: LOAD DATA of each chunk, sent
 * while the next chunk is made).
 */
import Database from 'better-sqlite3';
import { copyFileSync, linkSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { createConnection, type Connection } from 'mysql2/promise';
import { md5Hex, versionKey } from '../src/storage/keys/keys';
import type { ServiceProcess } from './processes';

type Row = Record<string, unknown>;

export interface BenchDb {
  rows(sql: string, params?: unknown[]): Promise<Row[]>;
  /** Inserts `rows` (values in `columns` order) in one transaction. */
  insert(table: string, columns: string[], rows: unknown[][]): Promise<void>;
  /**
   * Runs a large seed into (nearly) empty tables: the secondary indexes of `tables` are dropped
   * during it and made again after, as they were (one sort per index instead of a million random
   * inserts, which on MariaDB also outgrow its buffer pool; the service is idle meanwhile).
   */
  bulk(tables: string[], seeding: () => Promise<void>): Promise<void>;
  close(): Promise<void>;
}

function sqliteDb(file: string): BenchDb {
  const db = new Database(file);
  db.pragma('busy_timeout = 30000');
  // This connection only seeds: a large page cache for the random index inserts, and no fsync
  // per commit (the seed need not survive a crash; the service's own connection is unchanged).
  db.pragma('cache_size = -262144');
  db.pragma('synchronous = OFF');
  const statements = new Map<string, Database.Statement<unknown[]>>();
  return {
    rows: async (sql, params = []) => db.prepare(sql).all(...params) as Row[],
    insert: async (table, columns, rows) => {
      const sql = `INSERT INTO "${table}" (${columns.map((c) => `"${c}"`).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`;
      const statement = statements.get(sql) ?? db.prepare<unknown[]>(sql);
      statements.set(sql, statement);
      db.transaction(() => {
        for (const row of rows) statement.run(...row);
      })();
    },
    bulk: async (tables, seeding) => {
      const indexes = db
        .prepare(
          `SELECT "name", "sql" FROM "sqlite_master" WHERE "type" = 'index' AND "sql" IS NOT NULL AND "tbl_name" IN (${tables.map(() => '?').join(', ')})`,
        )
        .all(...tables) as { name: string; sql: string }[];
      for (const index of indexes) db.exec(`DROP INDEX "${index.name}"`);
      try {
        await seeding();
      } finally {
        for (const index of indexes) db.exec(index.sql);
        db.exec('ANALYZE');
      }
    },
    close: async () => void db.close(),
  };
}

function mysqlDb(connection: Connection): BenchDb {
  return {
    rows: async (sql, params = []) => (await connection.query(sql.replaceAll('"', '`'), params))[0] as Row[],
    insert: async (table, columns, rows) => {
      // LOAD DATA: rows as tab-separated text, which the server parses for about half the CPU
      // of a multi-row INSERT; one statement, one transaction.
      const text = rows.map((row) => row.map(tsvField).join('\t')).join('\n');
      await connection.query({
        sql:
          `LOAD DATA LOCAL INFILE 'seed.tsv' INTO TABLE \`${table}\` CHARACTER SET utf8mb4 ` +
          `FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (${columns.map((c) => `\`${c}\``).join(', ')})`,
        infileStreamFactory: () => Readable.from([Buffer.from(text)]),
      });
    },
    bulk: async (tables, seeding) => {
      const indexes = await secondaryIndexes(connection, tables);
      for (const [table, list] of indexes)
        await connection.query(`ALTER TABLE \`${table}\` ${list.map((i) => `DROP INDEX \`${i.name}\``).join(', ')}`);
      try {
        await seeding();
      } finally {
        // One ALTER per table: its rows are read once and each index is built by a sort.
        for (const [table, list] of indexes)
          await connection.query(`ALTER TABLE \`${table}\` ${list.map((i) => `ADD ${i.definition}`).join(', ')}`);
        for (const table of tables) await connection.query(`ANALYZE TABLE \`${table}\``);
      }
    },
    close: () => connection.end(),
  };
}

/**
 * The secondary indexes of `tables` as `ADD` clauses can make them again (names, columns,
 * prefix lengths, uniqueness, as the migrations made them), by table.
 */
async function secondaryIndexes(
  connection: Connection,
  tables: string[],
): Promise<Map<string, { name: string; definition: string }[]>> {
  const [rows] = await connection.query(
    'SELECT TABLE_NAME AS t, INDEX_NAME AS i, NON_UNIQUE AS nonUnique, COLUMN_NAME AS c, SUB_PART AS part ' +
      "FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME <> 'PRIMARY' AND TABLE_NAME IN (?) " +
      'ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX',
    [tables],
  );
  const byIndex = new Map<string, { table: string; name: string; unique: boolean; columns: string[] }>();
  for (const r of rows as { t: string; i: string; nonUnique: number | string; c: string; part: number | null }[]) {
    const key = `${r.t}.${r.i}`;
    const index = byIndex.get(key) ?? { table: r.t, name: r.i, unique: Number(r.nonUnique) === 0, columns: [] };
    index.columns.push(`\`${r.c}\`${r.part === null ? '' : `(${r.part})`}`);
    byIndex.set(key, index);
  }
  const result = new Map<string, { name: string; definition: string }[]>();
  for (const index of byIndex.values()) {
    const definition = `${index.unique ? 'UNIQUE ' : ''}INDEX \`${index.name}\` (${index.columns.join(', ')})`;
    result.set(index.table, [...(result.get(index.table) ?? []), { name: index.name, definition }]);
  }
  return result;
}

export async function openDb(service: ServiceProcess): Promise<BenchDb> {
  if (service.db === 'mysql') return mysqlDb(await createConnection(service.dbUrl));
  return sqliteDb(path.join(service.dataDir, 'storage.sqlite'));
}

export interface Template {
  file: Row;
  object: Row;
  store: string;
  /** The local instance's root folder, and the template's bytes in it (hard-linked as seeded objects). */
  root: string;
  objectPath: string;
}

/** The rows of the record the service made for `name` (uploaded just before). */
export async function templateOf(db: BenchDb, service: ServiceProcess, name: string): Promise<Template> {
  const [file] = await db.rows('SELECT * FROM "storage_files" WHERE "name" = ? ORDER BY "id" DESC LIMIT 1', [name]);
  if (!file) throw new Error(`no record of ${name}`);
  const [object] = await db.rows('SELECT * FROM "storage_objects" WHERE "keyHash" = ?', [file.keyHash]);
  if (!object) throw new Error(`no object row of ${name}`);
  const store = String(file.storeFullName);
  const root = path.join(service.dataDir, 'files');
  return { file, object, store, root, objectPath: path.join(root, String(file.objectKey)) };
}

export interface SeedBatch {
  /** `seed/0000001.bin`: the name of the i-th record of a batch. */
  nameOf(i: number): string;
  from: number;
  count: number;
  /** Epoch ms, or null for permanent records. */
  expires: number | null;
  /** Hard-link the template's bytes as each record's object (local disk only). */
  withObjects: boolean;
}

export function namer(prefix: string): (i: number) => string {
  return (i) => `${prefix}/${String(i).padStart(7, '0')}.bin`;
}

const CHUNK = 20_000;

/** A row of `template` as values in `columns` order, and where the values that change go. */
function rowShape(
  template: Row,
  changing: string[],
): { columns: string[]; values: unknown[]; at: Record<string, number> } {
  const columns = Object.keys(template).filter((c) => c !== 'id');
  const at = Object.fromEntries(changing.map((c) => [c, columns.indexOf(c)]));
  for (const [column, index] of Object.entries(at))
    if (index < 0) throw new Error(`no column ${column} in the template`);
  return { columns, values: columns.map((c) => template[c]), at };
}

/** Inserts the records of `batch` (and their object rows), CHUNK at a time. */
export async function seed(db: BenchDb, template: Template, batch: SeedBatch): Promise<void> {
  // Dropping and remaking the indexes costs a pass over the whole table: worth it only when most
  // of its rows are the new ones (the 10^6 records, not the 10^5 expired files added to them).
  const [{ have }] = await db.rows('SELECT COALESCE(MAX("id"), 0) AS "have" FROM "storage_files"');
  if (batch.count >= 50_000 && batch.count >= Number(have)) {
    await db.bulk(['storage_files', 'storage_objects'], () => seedRows(db, template, batch));
  } else await seedRows(db, template, batch);
}

async function seedRows(db: BenchDb, template: Template, batch: SeedBatch): Promise<void> {
  const changing = [
    'keyHash',
    'objectKey',
    'objectHash',
    'name',
    'uid',
    'fileName',
    'uploadTime',
    'expires',
    'retentionPeriod',
  ];
  const file = rowShape(template.file, changing);
  const object = rowShape(template.object, ['keyHash', 'name', 'createdAt', 'updatedAt']);
  const now = Date.now();
  const retention = batch.expires === null ? null : 1;
  const source = { path: template.objectPath };
  // The previous chunk's inserts, under way (MariaDB) while this one is made.
  let pending: Promise<void> = Promise.resolve();
  for (let start = batch.from; start < batch.from + batch.count; start += CHUNK) {
    const files: unknown[][] = [];
    const objects: unknown[][] = [];
    const end = Math.min(start + CHUNK, batch.from + batch.count);
    for (let i = start; i < end; i++) {
      const name = batch.nameOf(i);
      const keyHash = md5Hex(`${template.store}\u0000${name}`);
      const objectKey = versionKey(name, now);
      const f = file.values.slice();
      f[file.at.keyHash] = keyHash;
      f[file.at.objectKey] = objectKey;
      f[file.at.objectHash] = md5Hex(`${template.store}\u0000${objectKey}`);
      f[file.at.name] = name;
      f[file.at.uid] = md5Hex(name);
      f[file.at.fileName] = path.basename(name);
      f[file.at.uploadTime] = now;
      f[file.at.expires] = batch.expires;
      f[file.at.retentionPeriod] = retention;
      files.push(f);
      const o = object.values.slice();
      o[object.at.keyHash] = keyHash;
      o[object.at.name] = name;
      o[object.at.createdAt] = now;
      o[object.at.updatedAt] = now;
      objects.push(o);
      if (batch.withObjects) linkObject(source, path.join(template.root, objectKey));
    }
    await pending;
    pending = db
      .insert('storage_files', file.columns, files)
      .then(() => db.insert('storage_objects', object.columns, objects));
  }
  await pending;
}

/**
 * Gives `to` the template's bytes as a hard link of `source.path`; when that file has as many
 * links as the filesystem allows (ext4: 65,000), `to` becomes a copy, and the source of the
 * links after it. Every file made is a seeded object: nothing else is left in the storage root.
 */
function linkObject(source: { path: string }, to: string): void {
  try {
    linkSync(source.path, to);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      mkdirSync(path.dirname(to), { recursive: true });
      linkObject(source, to);
    } else if (code === 'EMLINK') {
      copyFileSync(source.path, to);
      source.path = to;
    } else throw err;
  }
}

/** A value as a field of `LOAD DATA`'s format above: `\N` for NULL, tabs, newlines and backslashes escaped. */
function tsvField(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  return String(value).replace(/[\\\t\n]/g, (c) => (c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\\\'));
}
