/**
 * Fast seeding of many records, straight into the service's database (SQLite file or MariaDB):
 * a real upload is the template, and its rows in `storage_files` and `storage_objects` are
 * cloned with new names, key hashes and version keys (as `src/storage/keys` and the object ledger
 * make them), so each seeded record is one the service serves as it serves its own. Rows go in
 * large transactions (SQLite: one prepared statement; MariaDB: multi-row INSERTs).
 */
import Database from 'better-sqlite3';
import { copyFileSync, linkSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { createConnection, type Connection } from 'mysql2/promise';
import { md5Hex, versionKey } from '../src/storage/keys/keys';
import type { ServiceProcess } from './processes';

type Row = Record<string, unknown>;

export interface BenchDb {
  rows(sql: string, params?: unknown[]): Promise<Row[]>;
  /** Inserts `rows` (values in `columns` order) in one transaction. */
  insert(table: string, columns: string[], rows: unknown[][]): Promise<void>;
  /**
   * Runs a large seed: on SQLite the secondary indexes of `tables` are dropped during it and made
   * again after (one sort instead of a million random inserts; the service is idle meanwhile);
   * MariaDB buffers secondary index changes itself.
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
  const PER_STATEMENT = 2000;
  return {
    rows: async (sql, params = []) => (await connection.query(sql.replaceAll('"', '`'), params))[0] as Row[],
    insert: async (table, columns, rows) => {
      await connection.beginTransaction();
      const sql = `INSERT INTO \`${table}\` (${columns.map((c) => `\`${c}\``).join(', ')}) VALUES ?`;
      for (let i = 0; i < rows.length; i += PER_STATEMENT)
        await connection.query(sql, [rows.slice(i, i + PER_STATEMENT)]);
      await connection.commit();
    },
    bulk: (_tables, seeding) => seeding(),
    close: () => connection.end(),
  };
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
  if (batch.count >= 50_000) {
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
    await db.insert('storage_files', file.columns, files);
    await db.insert('storage_objects', object.columns, objects);
  }
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
