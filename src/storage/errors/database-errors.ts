import { StorageError, StorageErrorCode } from './storage.error';

/**
 * Error codes of mysql2 and better-sqlite3 that mean "the database cannot be reached or did not
 * answer in time", not "this query is wrong": refused, reset or lost connections, the connect and
 * per-query timeouts (`connectTimeout`, `timeout`: `PROTOCOL_SEQUENCE_TIMEOUT`), a server out of
 * connections, and SQLite's busy timeout run out.
 */
const UNAVAILABLE_CODES = new Set([
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR',
  'PROTOCOL_ENQUEUE_AFTER_QUIT',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_CANTOPEN',
]);

/**
 * Socket errors count only when mysql2 marks them `fatal` (the connection is gone): the same codes
 * from a storage backend's SDK are that backend's business, not the database's.
 */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND']);

/** Messages of errors that carry no code: mysql2's closed pool, TypeORM's closed data source. */
const UNAVAILABLE_MESSAGES = [
  /^Pool is closed/,
  /Connection lost/i,
  /Can't add new command when connection is in closed state/,
];

/**
 * True when `err` (a TypeORM `QueryFailedError`, a driver error, or one wrapping either as its
 * `driverError` or `cause`) says the database is unreachable or hung. Duck-typed, so that this
 * floor imports neither TypeORM nor a driver.
 */
export function isDatabaseUnavailable(err: unknown, depth = 0): boolean {
  if (typeof err !== 'object' || err === null || depth > 4) return false;
  if (err instanceof StorageError) return err.code === StorageErrorCode.DATABASE_UNAVAILABLE;
  const { code, fatal, message, driverError, cause } = err as {
    code?: unknown;
    fatal?: unknown;
    message?: unknown;
    driverError?: unknown;
    cause?: unknown;
  };
  if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
  if (typeof code === 'string' && SOCKET_CODES.has(code) && fatal === true) return true;
  if (typeof message === 'string' && UNAVAILABLE_MESSAGES.some((re) => re.test(message))) return true;
  return isDatabaseUnavailable(driverError, depth + 1) || isDatabaseUnavailable(cause, depth + 1);
}

/** Codes of a database that did not answer in time (as opposed to one that refused or dropped the connection). */
const TIMEOUT_CODES = new Set(['PROTOCOL_SEQUENCE_TIMEOUT', 'ETIMEDOUT', 'SQLITE_BUSY', 'SQLITE_LOCKED']);

/**
 * Of an error `isDatabaseUnavailable` accepts: `timeout` when the database did not answer in time
 * (a query or connect timeout, SQLite's busy timeout run out), else `unavailable` (refused, lost,
 * closed). Looks through `cause` and `driverError` as `isDatabaseUnavailable` does.
 */
export function databaseFailureKind(err: unknown, depth = 0): 'timeout' | 'unavailable' {
  if (typeof err !== 'object' || err === null || depth > 4) return 'unavailable';
  const { code, driverError, cause } = err as { code?: unknown; driverError?: unknown; cause?: unknown };
  if (typeof code === 'string' && TIMEOUT_CODES.has(code)) return 'timeout';
  const inner = [driverError, cause].filter((e) => typeof e === 'object' && e !== null);
  return inner.some((e) => databaseFailureKind(e, depth + 1) === 'timeout') ? 'timeout' : 'unavailable';
}

/** The 503 for a database that is down or hung; the driver's error stays in `cause` (logged, not shown). */
export function databaseUnavailable(cause: unknown): StorageError {
  return new StorageError(
    StorageErrorCode.DATABASE_UNAVAILABLE,
    'the database is unavailable or did not answer in time; retry shortly',
    {},
    { cause },
  );
}
