import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { FileEntity } from '../database/entities/file.entity';

/** The newest unexpired record of a key: the read every download, preview and meta starts with. */
export const LIVE_RECORD_SQL =
  'SELECT * FROM storage_files WHERE keyHash = ? AND (expires IS NULL OR expires > ?) ORDER BY id DESC LIMIT 1';

/** better-sqlite3's `Database`, as much of it as is used here. */
interface SqliteDatabase {
  prepare(sql: string): { get(...params: unknown[]): unknown };
  pragma(sql: string): unknown;
  close(): void;
}
type SqliteConstructor = new (file: string, options: { readonly: boolean; fileMustExist: boolean }) => SqliteDatabase;

/** mysql2's callback pool and connection, as much of them as is used here. */
interface MysqlConnection {
  execute(
    options: { sql: string; values: unknown[]; timeout?: number },
    callback: (err: (Error & { code?: unknown; fatal?: unknown }) | null, rows?: unknown) => void,
  ): void;
  release(): void;
  destroy(): void;
}
interface MysqlPool {
  getConnection(callback: (err: Error | null, connection?: MysqlConnection) => void): void;
}

/**
 * `storage_files` rows as entities: the bigint columns as numbers (mysql2 hands them over as
 * strings), every other column as it is.
 */
function toEntity(row: Record<string, unknown>): FileEntity {
  const entity = Object.assign(new FileEntity(), row);
  entity.id = Number(row.id);
  entity.size = Number(row.size);
  entity.uploadTime = Number(row.uploadTime);
  entity.expires = row.expires === null || row.expires === undefined ? null : Number(row.expires);
  return entity;
}

/**
 * The statement as a server-side prepared statement (mysql2 keeps it per connection), on a
 * connection of TypeORM's pool, under the data source's query timeout: about half the client CPU
 * of TypeORM's query runner. A connection whose query timed out or failed fatally is destroyed, as
 * the application's pool guard does for TypeORM's queries (its next query would wait behind the
 * one that never answered).
 */
function execute(pool: MysqlPool, values: unknown[], timeout: number | undefined): Promise<unknown> {
  return new Promise((resolve, reject) =>
    pool.getConnection((err, connection) => {
      if (err || !connection) return reject(err ?? new Error('no database connection'));
      connection.execute({ sql: LIVE_RECORD_SQL, values, timeout }, (queryErr, rows) => {
        if (queryErr && (queryErr.code === 'PROTOCOL_SEQUENCE_TIMEOUT' || queryErr.fatal === true)) {
          connection.destroy();
        } else {
          connection.release();
        }
        if (queryErr) reject(queryErr);
        else resolve(rows);
      });
    }),
  );
}

/**
 * The live-record read, as one hand-written statement (no query building per request), by the
 * `IDX_storage_files_key` index (`keyHash`, then the primary key in its order: no sort).
 *
 * On a SQLite file it runs on a read-only connection of its own, prepared once: better-sqlite3
 * reads synchronously in a few microseconds, in WAL mode a reader never waits for a writer and
 * sees only committed transactions (the shared TypeORM connection would queue the read behind
 * every write in flight, and see another request's transaction before it commits). Its busy
 * timeout is 0, so the event loop never waits on a lock: a busy database (a WAL recovery) sends
 * the read to the shared connection instead. On MySQL, a prepared statement on a connection of
 * TypeORM's pool (`execute`); on an in-memory SQLite database, TypeORM's query.
 */
@Injectable()
export class LiveRecordLookup implements OnApplicationShutdown {
  private readonly logger = new Logger(LiveRecordLookup.name);
  private reader: { db: SqliteDatabase; get(...params: unknown[]): unknown } | null | undefined;
  private mysql: { pool: MysqlPool; timeoutMs: number | undefined } | null | undefined;

  constructor(@InjectRepository(FileEntity) private readonly files: Repository<FileEntity>) {}

  /** The newest record of `keyHash` unexpired at `now`, or null. */
  async find(keyHash: string, now: number): Promise<FileEntity | null> {
    const reader = this.reader === undefined ? this.openReader() : this.reader;
    if (reader) {
      try {
        const row = reader.get(keyHash, now) as Record<string, unknown> | undefined;
        return row ? toEntity(row) : null;
      } catch (err) {
        if ((err as { code?: unknown }).code !== 'SQLITE_BUSY') throw err;
      }
    }
    this.mysql ??= this.mysqlPool();
    const rows = (
      this.mysql
        ? await execute(this.mysql.pool, [keyHash, now], this.mysql.timeoutMs)
        : await this.files.query(LIVE_RECORD_SQL, [keyHash, now])
    ) as Record<string, unknown>[];
    return rows.length ? toEntity(rows[0]) : null;
  }

  /**
   * TypeORM's mysql2 pool (public in TypeORM 1) and the data source's per-query timeout
   * (`enableQueryTimeout` with `maxQueryExecutionTime`), looked up once; null on another database.
   */
  private mysqlPool(): LiveRecordLookup['mysql'] {
    const { driver, options } = this.files.manager.connection;
    if (options.type !== 'mysql' && options.type !== 'mariadb') return null;
    const pool = (driver as { pool?: MysqlPool }).pool;
    if (typeof pool?.getConnection !== 'function') return null;
    const { enableQueryTimeout, maxQueryExecutionTime } = options as {
      enableQueryTimeout?: boolean;
      maxQueryExecutionTime?: number;
    };
    return { pool, timeoutMs: enableQueryTimeout ? maxQueryExecutionTime : undefined };
  }

  onApplicationShutdown(): void {
    this.reader?.db.close();
    this.reader = null;
  }

  /** The SQLite file's read-only connection; null on MySQL, in memory, or when it cannot be opened. */
  private openReader(): LiveRecordLookup['reader'] {
    this.reader = null;
    const { driver, options } = this.files.manager.connection;
    const file = options.type === 'better-sqlite3' ? options.database : undefined;
    const Sqlite = (driver as { sqlite?: unknown }).sqlite as SqliteConstructor | undefined;
    if (!file || file === ':memory:' || typeof Sqlite !== 'function') return null;
    try {
      const db = new Sqlite(file, { readonly: true, fileMustExist: true });
      db.pragma('busy_timeout = 0');
      const statement = db.prepare(LIVE_RECORD_SQL);
      this.reader = { db, get: (...params) => statement.get(...params) };
    } catch (err) {
      this.logger.warn(`record reads share the main SQLite connection: ${(err as Error).message}`);
    }
    return this.reader;
  }
}
