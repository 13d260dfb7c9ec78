import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { In, type DataSource, type EntityManager } from 'typeorm';
import { FileEntity } from '../database/entities/file.entity';
import { md5Hex } from '../keys/keys';
import { Clock } from './clock';
import { KeyLocks, type LockedKey, type ObjectRef, type SKIPPED } from './key-locks';
import { RetiredObjectEntity } from '../database/entities/retired-object.entity';
import { StorageObjectEntity } from '../database/entities/storage-object.entity';
import { UploadPinEntity } from '../database/entities/upload-pin.entity';

/** The record an upload commits; times are filled in under the lock. */
export type RecordFields = Pick<
  FileEntity,
  | 'md5'
  | 'uid'
  | 'name'
  | 'size'
  | 'type'
  | 'fileName'
  | 'fullName'
  | 'uploadUser'
  | 'updateUserId'
  | 'storeFullName'
  | 'objectKey'
> & { expiresSeconds: number | null };

export interface RemovedRecords {
  records: FileEntity[];
  /** Objects that lost their last reference: queued for `ObjectPurger`, due at once. */
  retired: number[];
}

/** An object leaving its last reference: what `retire` queues. */
export interface Retiring {
  storeFullName: string;
  objectKey: string;
  shared: boolean;
}

/** Which records of a key `removeRecords` takes: some ids, the expired ones, or all. */
export type RecordSelector = { ids: number[] } | { expired: true } | { all: true };

/**
 * The reference ledger: which records and uploads refer to which stored objects, kept correct
 * under concurrency. It stores no objects. A key's references are its unexpired records plus its
 * upload pins; every change to them holds the key's lock (`KeyLocks`). Objects are immutable: a
 * plain upload's bytes live in a version object only its record points at, a md5 upload's in
 * `{md5}{suffix}`, shared. When an object loses its last reference the ledger retires it (a row
 * in `storage_retired_objects`, in the same transaction), and `ObjectPurger` removes it later:
 * no step ever removes bytes that a committed record points at.
 */
@Injectable()
export class ObjectLedger {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(Clock) private readonly clock: Clock,
    private readonly locks: KeyLocks,
  ) {}

  ref(storeFullName: string, name: string): ObjectRef {
    return { storeFullName, name, keyHash: keyHash(storeFullName, name) };
  }

  /**
   * Removes the selected records of `ref`, retires the objects that no reference is left to, and
   * drops the key when nothing refers to it any more (its expired records go with it). `SKIPPED`
   * when `skipLocked` found the key busy. `allow`, under the lock, sees the unexpired records
   * chosen and may throw to refuse the whole removal (nothing is changed then).
   */
  removeRecords(
    ref: ObjectRef,
    selector: RecordSelector,
    options: { skipLocked?: boolean; allow?: (live: FileEntity[]) => void } = {},
  ): Promise<RemovedRecords | typeof SKIPPED> {
    return this.locks.run(
      ref,
      async (locked) => {
        const now = this.clock.now();
        const records = await locked.manager.find(FileEntity, {
          where: { keyHash: ref.keyHash },
          order: { id: 'ASC' },
        });
        const chosen = records.filter((r) =>
          'ids' in selector ? selector.ids.includes(r.id) : 'expired' in selector ? isExpired(r, now) : true,
        );
        options.allow?.(chosen.filter((r) => !isExpired(r, now)));
        if (chosen.length > 0) await locked.manager.delete(FileEntity, { id: In(chosen.map((r) => r.id)) });
        // A plain file's object is its record's alone; shared content goes with the key below.
        const retired = locked.row.dedup ? [] : await this.retire(locked.manager, chosen.map(objectOf), 0);
        const swept = await this.collectIfUnreferenced(locked, now, records.length > 0);
        return { records: [...chosen, ...swept.records], retired: [...retired, ...swept.retired] };
      },
      options,
    );
  }

  /** Unexpired records plus upload pins of `ref`: what keeps the key. */
  async references(ref: ObjectRef): Promise<number> {
    const manager = this.dataSource.manager;
    const now = this.clock.now();
    return (
      (await this.liveCount(manager, ref, now)) +
      (await manager.count(UploadPinEntity, { where: { keyHash: ref.keyHash } }))
    );
  }

  /**
   * Under the lock: if no unexpired record and no pin refers to the key, drops its remaining
   * records and its row and retires their objects (`mayHaveObject` false for a shared key whose
   * row this lock just made: no object of ours can be there).
   */
  async collectIfUnreferenced(locked: LockedKey, now: number, mayHaveObject: boolean): Promise<RemovedRecords> {
    const { manager, row, created } = locked;
    const keyHash = row.keyHash;
    const records = await manager.find(FileEntity, { where: { keyHash } });
    const pins = await manager.count(UploadPinEntity, { where: { keyHash } });
    if (pins > 0 || records.some((r) => !isExpired(r, now))) return { records: [], retired: [] };
    if (records.length > 0) await manager.delete(FileEntity, { id: In(records.map((r) => r.id)) });
    await manager.delete(StorageObjectEntity, { id: row.id });
    const shared = row.dedup && (!created || mayHaveObject || records.length > 0);
    const objects = row.dedup
      ? shared
        ? [{ storeFullName: row.storeFullName, objectKey: row.name, shared: true }]
        : []
      : records.map(objectOf);
    return { records, retired: await this.retire(manager, objects, 0) };
  }

  /**
   * Queues objects for removal `delaySeconds` from now, in the caller's transaction; returns
   * the queue rows' ids. One object is queued once, however many records pointed at it.
   */
  async retire(manager: EntityManager, objects: Retiring[], delaySeconds: number): Promise<number[]> {
    const now = this.clock.now();
    const unique = new Map(objects.map((o) => [keyHash(o.storeFullName, o.objectKey), o]));
    const ids: number[] = [];
    for (const [objectHash, object] of unique) {
      const row = manager.create(RetiredObjectEntity, {
        ...object,
        objectHash,
        removeAfter: now + delaySeconds * 1000,
        attempts: 0,
        lastError: null,
        createdAt: now,
      });
      ids.push((await manager.save(row)).id);
    }
    return ids;
  }

  /** Unexpired records of `ref`. */
  liveCount(manager: EntityManager, ref: ObjectRef, now: number): Promise<number> {
    return manager
      .createQueryBuilder(FileEntity, 'f')
      .where('f.keyHash = :keyHash', { keyHash: ref.keyHash })
      .andWhere('(f.expires IS NULL OR f.expires > :now)', { now })
      .getCount();
  }

  /** Records, pins and queued removals that name the object `objectHash`: zero means nobody knows it. */
  async mentions(manager: EntityManager, objectHash: string): Promise<number> {
    const where = { where: { objectHash } };
    return (
      (await manager.count(FileEntity, where)) +
      (await manager.count(UploadPinEntity, where)) +
      (await manager.count(RetiredObjectEntity, where))
    );
  }
}

function objectOf(record: Pick<FileEntity, 'storeFullName' | 'objectKey'>): Retiring {
  return { storeFullName: record.storeFullName, objectKey: record.objectKey, shared: false };
}

export function keyHash(storage: string, key: string): string {
  return md5Hex(`${storage}\u0000${key}`);
}

export function isExpired(record: Pick<FileEntity, 'expires'>, now: number): boolean {
  return record.expires !== null && record.expires <= now;
}
