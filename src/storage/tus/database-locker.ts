import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Lock, Locker, RequestRelease } from '@tus/utils';
import { randomBytes } from 'node:crypto';
import { LessThan, type DataSource } from 'typeorm';
import { ResumableLockEntity } from '../database/entities/resumable-lock.entity';
import { Clock } from '../ledger/clock';
import { KeyLocks } from '../ledger/key-locks';
import { isDeadOwner, PROCESS_IDENTITY } from '../ledger/process-identity';
import { tusUtils } from './tus-modules';

/** How long a lease lasts without renewal: a replica that vanished holds an upload at most this long. */
export const LEASE_MS = 30_000;
/** How often a holder renews its lease and looks whether another request asked for the upload. */
const RENEW_MS = 1_000;
/** How often a waiting request tries again. */
const POLL_MS = 100;
/** How long a request waits for an upload before it gives up (500, the client retries). */
const WAIT_MS = 60_000;

/**
 * tus's `Locker` over the database, so that every replica sharing it takes turns on an upload:
 * a lease row per upload (`storage_resumable_locks`) with its holder and expiry, taken by
 * compare-and-set (the same statements on MySQL/MariaDB and SQLite, no transaction held open).
 * A lease whose holder is a dead process of this host, or that was not renewed for `LEASE_MS`,
 * is taken over. A request that finds the upload held sets `releaseRequested`: the holder sees it
 * within `RENEW_MS` and calls its release callback (tus then ends its request after the drain
 * timeout), which is how a half-open PATCH on another replica lets a resumed client in.
 */
@Injectable()
export class DatabaseLocker implements Locker {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(Clock) private readonly clock: Clock,
    private readonly locks: KeyLocks,
  ) {}

  newLock(id: string): Lock {
    return new DatabaseLock(this, id);
  }

  /** Takes the lease of `id` for `owner` if it is free, expired or held by a dead process; true when held. */
  async tryTake(id: string, owner: string): Promise<boolean> {
    return this.locks.exclusive(async () => {
      const repo = this.dataSource.getRepository(ResumableLockEntity);
      const now = this.clock.now();
      await repo
        .createQueryBuilder()
        .insert()
        .values({ id, owner, expiresAt: now + LEASE_MS, releaseRequested: 0 })
        .orIgnore()
        .execute();
      const row = await repo.findOne({ where: { id } });
      if (!row) return false;
      if (row.owner === owner) return true;
      if (row.expiresAt >= now && !isDeadOwner(row.owner.split('#')[0])) return false;
      const taken = await repo.update(
        { id, owner: row.owner },
        { owner, expiresAt: now + LEASE_MS, releaseRequested: 0 },
      );
      return (taken.affected ?? 0) > 0;
    });
  }

  /** Renews `owner`'s lease; false when it lost it. `released`: another request asked for the upload. */
  async renew(id: string, owner: string): Promise<{ held: boolean; releaseRequested: boolean }> {
    return this.locks.exclusive(async () => {
      const repo = this.dataSource.getRepository(ResumableLockEntity);
      const renewed = await repo.update({ id, owner }, { expiresAt: this.clock.now() + LEASE_MS });
      if (!renewed.affected) return { held: false, releaseRequested: false };
      const row = await repo.findOne({ where: { id } });
      return { held: true, releaseRequested: row?.releaseRequested === 1 };
    });
  }

  async askRelease(id: string): Promise<void> {
    await this.locks.exclusive(() =>
      this.dataSource.getRepository(ResumableLockEntity).update({ id }, { releaseRequested: 1 }),
    );
  }

  async release(id: string, owner: string): Promise<void> {
    await this.locks.exclusive(() => this.dataSource.getRepository(ResumableLockEntity).delete({ id, owner }));
  }

  /** Leases nobody renewed for a long time (their process vanished): removed. */
  async removeStale(): Promise<number> {
    const stale = this.clock.now() - 10 * LEASE_MS;
    const removed = await this.locks.exclusive(() =>
      this.dataSource.getRepository(ResumableLockEntity).delete({ expiresAt: LessThan(stale) }),
    );
    return removed.affected ?? 0;
  }
}

/** One request's hold on one upload. */
class DatabaseLock implements Lock {
  private readonly owner = `${PROCESS_IDENTITY}#${randomBytes(6).toString('hex')}`;
  private renewal: NodeJS.Timeout | undefined;

  constructor(
    private readonly locker: DatabaseLocker,
    private readonly id: string,
  ) {}

  async lock(signal: AbortSignal, requestRelease: RequestRelease): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    let asked = false;
    while (!(await this.locker.tryTake(this.id, this.owner))) {
      if (signal.aborted || Date.now() > deadline) throw tusUtils().ERRORS.ERR_LOCK_TIMEOUT;
      if (!asked) await this.locker.askRelease(this.id);
      asked = true;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    this.keepAlive(requestRelease);
  }

  async unlock(): Promise<void> {
    clearInterval(this.renewal);
    this.renewal = undefined;
    await this.locker.release(this.id, this.owner);
  }

  /** Renews the lease while held; calls `requestRelease` once when another request asks for the upload. */
  private keepAlive(requestRelease: RequestRelease): void {
    let told = false;
    this.renewal = setInterval(() => {
      this.locker.renew(this.id, this.owner).then(
        async ({ held, releaseRequested }) => {
          if ((!held || releaseRequested) && !told) {
            told = true;
            await requestRelease();
          }
        },
        () => undefined,
      );
    }, RENEW_MS);
    this.renewal.unref();
  }
}
