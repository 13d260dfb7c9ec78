import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Clock } from './clock';
import type { DataSource, EntityManager } from 'typeorm';
import { StorageObjectEntity } from '../database/entities/storage-object.entity';
import { OBJECT_COLUMNS, objectRow, placeholders, sql } from './sql';

/** A key in one storage instance, as the lock and the object row know it. */
export interface ObjectRef {
  storeFullName: string;
  name: string;
  keyHash: string;
}

/** What locked work sees: the transaction and the key's row. */
export interface LockedKey {
  manager: EntityManager;
  row: StorageObjectEntity;
  /** The row was made by this lock: the key had none before. */
  created: boolean;
}

/** What set-based locked work sees: the rows it holds, and the keys it could not take. */
export interface LockedBatch {
  manager: EntityManager;
  rows: StorageObjectEntity[];
  /** Held by another transaction (MySQL): left for a later run. */
  busy: ObjectRef[];
  /** No row: for `run`, one by one. */
  missing: ObjectRef[];
}

/** Returned instead of running the work when `skipLocked` found the key locked elsewhere. */
export const SKIPPED = Symbol('skipped');

const RETRIES = 6;
// ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT, ER_DUP_ENTRY (two first uploads of one key raced to create its row).
const RETRYABLE_ERRNO = new Set([1213, 1205, 1062]);

/**
 * Mutual exclusion per key, across every replica that shares the database. On MySQL/MariaDB
 * the key's `storage_objects` row is locked with `SELECT ... FOR UPDATE` in a READ COMMITTED
 * transaction (no gap locks, so inserting records never waits on a sweeper's range); the row
 * is created first when missing. Every lock takes exactly one object row and takes it before
 * touching records or pins, so two locks never wait on each other in opposite orders.
 *
 * On SQLite (one process, one connection: better-sqlite3 is synchronous and TypeORM shares one
 * query runner) the database serialises writers, and concurrent TypeORM transactions on that
 * one connection would nest, so locked work runs one at a time behind an in-process queue.
 *
 * Work that touches a backend inside the lock (`ObjectPurger` removing a shared object) does so
 * before the commit on both databases: a failed removal rolls the step back and is retried.
 */
@Injectable()
export class KeyLocks {
  private readonly logger = new Logger(KeyLocks.name);
  /** MySQL/MariaDB (row locks, transactions that wait on the server), else SQLite. */
  readonly mysql: boolean;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(Clock) private readonly clock: Clock,
  ) {
    const type = dataSource.options.type;
    this.mysql = type === 'mysql' || type === 'mariadb';
  }

  /**
   * Runs `work` holding `ref`'s lock. With `skipLocked`, a key another transaction holds is not
   * waited for: the result is `SKIPPED` (how two sweepers share the work).
   */
  async run<T>(
    ref: ObjectRef,
    work: (key: LockedKey) => Promise<T>,
    options: { skipLocked?: boolean } = {},
  ): Promise<T | typeof SKIPPED> {
    if (!this.mysql) return this.exclusive(() => this.runSqlite(ref, work));
    return this.retrying(ref.name, () => this.runMysql(ref, work, options.skipLocked ?? false));
  }

  /** Runs a MySQL transaction again after a deadlock, a lock wait timeout or a lost race to make a row. */
  private async retrying<T>(name: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const errno = (err as { driverError?: { errno?: number } }).driverError?.errno;
        if (errno === undefined || !RETRYABLE_ERRNO.has(errno) || attempt >= RETRIES) throw err;
        this.logger.debug(`retrying the lock on '${name}' after errno ${errno}`);
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * attempt));
      }
    }
  }

  /**
   * Runs `fn` alone among locked work on SQLite, where single statements would otherwise land
   * inside another caller's open transaction; on MySQL it just runs `fn`.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.mysql) return fn();
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /**
   * Locks the rows of many keys at once for set-based work (the sweeper's batches), never
   * waiting: on MySQL with `SKIP LOCKED`, so keys another transaction holds are left out (`busy`)
   * and two batch holders can never wait on each other; on SQLite behind the same queue as
   * `run`. Keys that have no row yet are `missing` (locked work makes their row; the caller
   * takes them one by one through `run`).
   */
  async runBatch<T>(refs: ObjectRef[], work: (batch: LockedBatch) => Promise<T>): Promise<T> {
    const locked = async (manager: EntityManager) => {
      const hashes = refs.map((r) => r.keyHash);
      const lock = this.mysql ? ' FOR UPDATE SKIP LOCKED' : '';
      const { rows } = await sql(
        manager,
        `SELECT ${OBJECT_COLUMNS} FROM storage_objects WHERE keyHash IN (${placeholders(hashes.length)})${lock}`,
        hashes,
      );
      const taken = rows.map(objectRow);
      const seen = new Set(taken.map((r) => r.keyHash));
      const unseen = refs.filter((r) => !seen.has(r.keyHash));
      const held = new Set(this.mysql && unseen.length > 0 ? await existingKeys(manager, unseen) : []);
      return work({
        manager,
        rows: taken,
        busy: unseen.filter((r) => held.has(r.keyHash)),
        missing: unseen.filter((r) => !held.has(r.keyHash)),
      });
    };
    if (!this.mysql) return this.exclusive(() => this.dataSource.transaction(locked));
    return this.retrying('a batch of keys', () => this.dataSource.transaction('READ COMMITTED', locked));
  }

  /**
   * Runs `work` holding the locks of many keys at once, waiting for them (unlike `runBatch`):
   * on MySQL `FOR UPDATE` in key order, so two holders of several keys always take them in the
   * same order and other lockers take one key each, never waiting on each other round a
   * circle (a deadlock still found is retried, `work` running again); on SQLite behind the
   * queue. `rows`: the keys that have a row (a key without one is not made here).
   */
  async runMany<T>(
    refs: ObjectRef[],
    work: (batch: { manager: EntityManager; rows: StorageObjectEntity[] }) => Promise<T>,
  ) {
    const hashes = [...new Set(refs.map((r) => r.keyHash))].sort();
    const locked = async (manager: EntityManager) => {
      const lock = this.mysql ? ' FOR UPDATE' : '';
      const { rows } = await sql(
        manager,
        `SELECT ${OBJECT_COLUMNS} FROM storage_objects WHERE keyHash IN (${placeholders(hashes.length)}) ORDER BY keyHash${lock}`,
        hashes,
      );
      return work({ manager, rows: rows.map(objectRow) });
    };
    if (!this.mysql) return this.exclusive(() => this.dataSource.transaction(locked));
    return this.retrying('a batch of keys', () => this.dataSource.transaction('READ COMMITTED', locked));
  }

  /**
   * Makes the rows of the keys that have none, in one statement, without taking their locks or
   * waiting for a holder beyond that statement (an upsert that changes nothing where the row
   * is there; rows in key order, as `runMany` locks them): how plain uploads' pins are written
   * outside the keys' locks while every pin still has its row. On SQLite, call it inside
   * `exclusive`.
   */
  async ensureRows(manager: EntityManager, refs: ObjectRef[]): Promise<void> {
    const now = this.clock.now();
    const unique = [...new Map(refs.map((r) => [r.keyHash, r])).values()].sort((a, b) =>
      a.keyHash < b.keyHash ? -1 : a.keyHash > b.keyHash ? 1 : 0,
    );
    const insert =
      'INSERT INTO storage_objects (keyHash, storeFullName, name, dedup, md5, size, generation, createdAt, updatedAt) VALUES ' +
      unique.map(() => '(?, ?, ?, 0, NULL, NULL, 0, ?, ?)').join(', ');
    const params = unique.flatMap((ref) => [ref.keyHash, ref.storeFullName, ref.name, now, now]);
    if (!this.mysql) {
      await sql(manager, `${insert} ON CONFLICT (keyHash) DO NOTHING`, params);
      return;
    }
    await this.retrying(unique[0].name, () => sql(manager, `${insert} ON DUPLICATE KEY UPDATE id = id`, params));
  }

  private runMysql<T>(ref: ObjectRef, work: (key: LockedKey) => Promise<T>, skipLocked: boolean) {
    return this.dataSource.transaction('READ COMMITTED', async (manager) => {
      const locked = await this.lockRow(manager, ref, skipLocked);
      if (locked === SKIPPED) return SKIPPED;
      return work({ manager, ...locked });
    });
  }

  private runSqlite<T>(ref: ObjectRef, work: (key: LockedKey) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(async (manager) => {
      const locked = await this.lockRow(manager, ref, false);
      if (locked === SKIPPED) throw new Error('unreachable: SQLite never skips');
      return work({ manager, ...locked });
    });
  }

  /**
   * The key's row, locked (`FOR UPDATE` on MySQL; on SQLite the queue and the transaction are
   * the lock), made first when missing. The INSERT locks the new row itself, so it is not read
   * again; two first uploads of one key racing to make it end in a duplicate key, retried.
   */
  private async lockRow(
    manager: EntityManager,
    ref: ObjectRef,
    skipLocked: boolean,
  ): Promise<{ row: StorageObjectEntity; created: boolean } | typeof SKIPPED> {
    const lock = this.mysql ? (skipLocked ? ' FOR UPDATE SKIP LOCKED' : ' FOR UPDATE') : '';
    const found = await sql(manager, `SELECT ${OBJECT_COLUMNS} FROM storage_objects WHERE keyHash = ?${lock}`, [
      ref.keyHash,
    ]);
    if (found.rows.length > 0) return { row: objectRow(found.rows[0]), created: false };
    // Nothing returned: either there is no row, or (skipLocked) another transaction holds it.
    if (skipLocked && (await existingKeys(manager, [ref])).length > 0) return SKIPPED;
    return { row: await this.insertRow(manager, ref), created: true };
  }

  private async insertRow(manager: EntityManager, ref: ObjectRef): Promise<StorageObjectEntity> {
    const now = this.clock.now();
    const inserted = await sql(
      manager,
      'INSERT INTO storage_objects (keyHash, storeFullName, name, dedup, md5, size, generation, createdAt, updatedAt) ' +
        'VALUES (?, ?, ?, 0, NULL, NULL, 0, ?, ?)',
      [ref.keyHash, ref.storeFullName, ref.name, now, now],
    );
    return Object.assign(new StorageObjectEntity(), {
      id: inserted.insertId,
      keyHash: ref.keyHash,
      storeFullName: ref.storeFullName,
      name: ref.name,
      dedup: false,
      md5: null,
      size: null,
      generation: 0,
      createdAt: now,
      updatedAt: now,
    });
  }
}

/** Which of `refs` have a row (read without locking). */
async function existingKeys(manager: EntityManager, refs: ObjectRef[]): Promise<string[]> {
  const { rows } = await sql<{ keyHash: string }>(
    manager,
    `SELECT keyHash FROM storage_objects WHERE keyHash IN (${placeholders(refs.length)})`,
    refs.map((r) => r.keyHash),
  );
  return rows.map((r) => r.keyHash);
}
