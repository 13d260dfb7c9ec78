import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Clock } from './clock';
import type { DataSource, EntityManager } from 'typeorm';
import { StorageObjectEntity } from '../database/entities/storage-object.entity';

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
  private readonly mysql: boolean;
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
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.runMysql(ref, work, options.skipLocked ?? false);
      } catch (err) {
        const errno = (err as { driverError?: { errno?: number } }).driverError?.errno;
        if (errno === undefined || !RETRYABLE_ERRNO.has(errno) || attempt >= RETRIES) throw err;
        this.logger.debug(`retrying the lock on '${ref.name}' after errno ${errno}`);
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

  private runMysql<T>(ref: ObjectRef, work: (key: LockedKey) => Promise<T>, skipLocked: boolean) {
    return this.dataSource.transaction('READ COMMITTED', async (manager) => {
      const locked = await this.lockRow(manager, ref, skipLocked);
      if (locked === SKIPPED) return SKIPPED;
      return work({ manager, ...locked });
    });
  }

  private runSqlite<T>(ref: ObjectRef, work: (key: LockedKey) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(async (manager) => {
      const row = await manager.findOne(StorageObjectEntity, { where: { keyHash: ref.keyHash } });
      const locked = row ? { row, created: false } : { row: await this.insertRow(manager, ref), created: true };
      return work({ manager, ...locked });
    });
  }

  private async lockRow(
    manager: EntityManager,
    ref: ObjectRef,
    skipLocked: boolean,
  ): Promise<{ row: StorageObjectEntity; created: boolean } | typeof SKIPPED> {
    const select = () => {
      const query = manager
        .createQueryBuilder(StorageObjectEntity, 'o')
        .where('o.keyHash = :keyHash', { keyHash: ref.keyHash })
        .setLock('pessimistic_write');
      return skipLocked ? query.setOnLocked('skip_locked') : query;
    };
    const row = await select().getOne();
    if (row) return { row, created: false };
    // Nothing returned: either there is no row, or (skipLocked) another transaction holds it.
    if (skipLocked && (await manager.exists(StorageObjectEntity, { where: { keyHash: ref.keyHash } }))) return SKIPPED;
    await this.insertRow(manager, ref);
    const mine = await select().getOne();
    if (!mine) throw new Error(`the object row of '${ref.name}' vanished inside its own transaction`);
    return { row: mine, created: true };
  }

  private insertRow(manager: EntityManager, ref: ObjectRef): Promise<StorageObjectEntity> {
    const now = this.clock.now();
    return manager.save(
      manager.create(StorageObjectEntity, {
        keyHash: ref.keyHash,
        storeFullName: ref.storeFullName,
        name: ref.name,
        dedup: false,
        md5: null,
        size: null,
        generation: 0,
        createdAt: now,
        updatedAt: now,
      }),
    );
  }
}
