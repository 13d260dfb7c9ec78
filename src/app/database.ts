import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { storageEntities } from '../storage/database/entities';
import { missingPackages } from '../storage/drivers/driver-definitions';
import { storageMigrations } from '../storage/database/migrations';

/** `DB_TIMEOUT_MS` (default 5000): how long any database step may take before it is a 503. */
export function databaseTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.DB_TIMEOUT_MS;
  if (raw === undefined || raw === '') return 5000;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 100) {
    throw new Error(`DB_TIMEOUT_MS must be a whole number of milliseconds, at least 100 (got '${raw}')`);
  }
  return value;
}

/**
 * TypeORM options from the environment: MySQL/MariaDB when `DB_URL` is set, otherwise an
 * embedded SQLite file under `DATA_DIR`. Migrations, never `synchronize`.
 *
 * Every database step is bounded by `DB_TIMEOUT_MS`, so that a database that is down or hung
 * answers a 503 `E_DATABASE_UNAVAILABLE` instead of holding requests: on MySQL, mysql2's
 * `connectTimeout` (a new connection's handshake) and its per-query `timeout` (TypeORM's
 * `enableQueryTimeout` + `maxQueryExecutionTime`; a query past it destroys its connection, so
 * the pool opens a fresh one once the server is back); on SQLite, the busy timeout (a write
 * waiting for another's lock). Gap: mysql2's pool has no acquire timeout (TypeORM's
 * `acquireTimeout` is ignored by mysql2); a request queued for a connection waits for one to be
 * freed, which the query timeout bounds, then for a new one's connect timeout: at most about
 * twice `DB_TIMEOUT_MS` in all.
 */
export function dataSourceOptions(env: NodeJS.ProcessEnv = process.env): DataSourceOptions {
  assertDatabaseDriver(env);
  const timeoutMs = databaseTimeoutMs(env);
  const common = {
    entities: storageEntities,
    migrations: storageMigrations,
    migrationsRun: true,
    synchronize: false,
    logging: env.DB_LOGGING === 'true',
  };
  if (env.DB_URL) {
    const url = new URL(env.DB_URL);
    if (url.protocol !== 'mysql:' && url.protocol !== 'mariadb:') {
      throw new Error(`DB_URL must be a mysql:// URL (got ${url.protocol}//...)`);
    }
    return {
      ...common,
      type: 'mysql',
      url: env.DB_URL.replace(/^mariadb:/, 'mysql:'),
      charset: 'utf8mb4_bin',
      supportBigNumbers: true,
      bigNumberStrings: true,
      migrationsTableName: 'storage_migrations',
      connectTimeout: timeoutMs,
      enableQueryTimeout: true,
      maxQueryExecutionTime: timeoutMs,
    };
  }
  const dataDir = path.resolve(env.DATA_DIR || './data');
  fs.mkdirSync(dataDir, { recursive: true });
  return {
    ...common,
    type: 'better-sqlite3',
    database: path.join(dataDir, 'storage.sqlite'),
    migrationsTableName: 'storage_migrations',
    prepareDatabase: (db: { pragma(sql: string): unknown }) => {
      for (const pragma of sqlitePragmas(timeoutMs)) db.pragma(pragma);
    },
  };
}

/** `requireDatabaseDriver` for the database `env` selects: mysql2 with `DB_URL`, else better-sqlite3. */
export function assertDatabaseDriver(env: NodeJS.ProcessEnv): void {
  if (env.DB_URL) requireDatabaseDriver('mysql2', 'DB_URL (MySQL/MariaDB)');
  else requireDatabaseDriver('better-sqlite3', 'the embedded SQLite database (no DB_URL)');
}

/**
 * Throws one line naming the package `use` needs and the command that installs it, when it is
 * not installed: the database drivers are the application's choice, not dependencies of the package.
 */
export function requireDatabaseDriver(driver: string, use: string): void {
  if (missingPackages([driver]).length === 0) return;
  throw new Error(`${use} needs the package ${driver}; install it with: npm install ${driver}`);
}

/**
 * SQLite's settings, applied to the one connection at open:
 * - WAL, with `synchronous = NORMAL`: a commit is appended to the WAL without an fsync of its
 *   own (the WAL is synced at each checkpoint). A committed step survives a crash of this
 *   process (the OS holds the pages); what a power loss can cost is the last commits before it,
 *   never the database's integrity. FULL would sync every commit (a disk flush per upload step).
 * - checkpoints are `SqliteCheckpointer`'s, off the event loop (a worker thread, every 250 ms,
 *   and between writes once the WAL holds 16 MiB, so that it starts over: the worker starts it
 *   over, so that the sync of the new WAL header is not on the event loop either);
 *   `wal_autocheckpoint` (pages, 64 MiB) is only a backstop for when that worker is not running
 *   (the commit crossing it would checkpoint on the event loop), and `journal_size_limit`
 *   truncates the WAL back after a checkpoint, so it cannot grow without end under steady
 *   writes (a long WAL makes every read search a longer WAL index).
 * - a page cache of 64 MiB (`cache_size` in KiB when negative) and temporary b-trees in memory.
 */
export function sqlitePragmas(busyTimeoutMs: number): string[] {
  return [
    'journal_mode = WAL',
    'synchronous = NORMAL',
    'wal_autocheckpoint = 16384',
    `journal_size_limit = ${64 * 1024 * 1024}`,
    'cache_size = -65536',
    'temp_store = MEMORY',
    `busy_timeout = ${busyTimeoutMs}`,
  ];
}

interface PooledConnection {
  query(...args: unknown[]): unknown;
  destroy(): void;
  storageGuarded?: boolean;
}

/**
 * mysql2's per-query `timeout` reports the error but keeps the connection busy with the query
 * that never answered: the next query on it waits behind that one, with no timer of its own, for
 * as long as the server hangs. So a connection whose query timed out (or failed fatally) is
 * destroyed here, and the pool opens a fresh one. Installed on the pool TypeORM's MySQL driver
 * created (`driver.pool`, public in TypeORM 1); a no-op on SQLite.
 */
export function destroyTimedOutConnections(dataSource: DataSource): DataSource {
  const pool = (dataSource.driver as { pool?: { getConnection(cb: (...args: unknown[]) => void): void } }).pool;
  if (!pool || typeof pool.getConnection !== 'function') return dataSource;
  const getConnection = pool.getConnection.bind(pool);
  pool.getConnection = (cb) =>
    getConnection((err: unknown, pooled?: unknown) => {
      const connection = pooled as PooledConnection | undefined;
      if (connection && !connection.storageGuarded) {
        connection.storageGuarded = true;
        const query = connection.query.bind(connection);
        connection.query = (...args: unknown[]) => {
          const last = args.length - 1;
          const callback = args[last];
          if (typeof callback === 'function') {
            args[last] = (queryErr: { code?: unknown; fatal?: unknown } | null, ...rest: unknown[]) => {
              if (queryErr && (queryErr.code === 'PROTOCOL_SEQUENCE_TIMEOUT' || queryErr.fatal === true)) {
                connection.destroy();
              }
              (callback as (...a: unknown[]) => void)(queryErr, ...rest);
            };
          }
          return query(...args);
        };
      }
      cb(err, connection);
    });
  return dataSource;
}
