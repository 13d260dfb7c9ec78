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
import { placeholders, sql } from './sql';

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

  /**
   * The sweeper's set-based step: for a batch of keys, in one transaction and a fixed number of
   * statements whatever the batch's size, removes their expired records, retires the objects no
   * reference is left to (due at once) and drops the keys nothing refers to any more: what
   * `removeRecords(ref, { expired: true })` does to one key. Keys another transaction holds are
   * skipped (`SKIP LOCKED`, never waited for); keys without a row are returned in `missing`, for
   * `removeRecords` one by one.
   */
  removeExpiredBatch(refs: ObjectRef[]): Promise<ExpiredBatch> {
    return this.locks.runBatch(refs, async ({ manager, rows, busy, missing }) => {
      const now = this.clock.now();
      const done: ExpiredBatch = { records: [], retired: [], busy: busy.length, missing };
      if (rows.length === 0) return done;
      const hashes = rows.map((r) => r.keyHash);
      const inKeys = `keyHash IN (${placeholders(hashes.length)})`;
      const records = (
        await sql<Record<string, unknown>>(
          manager,
          `SELECT id, keyHash, storeFullName, name, objectKey, fileName, expires FROM storage_files WHERE ${inKeys}`,
          hashes,
        )
      ).rows.map(sweptRecord);
      const pinned = await sql<{ keyHash: string }>(
        manager,
        `SELECT DISTINCT keyHash FROM storage_upload_pins WHERE ${inKeys}`,
        hashes,
      );
      const kept = new Set([
        ...pinned.rows.map((p) => p.keyHash),
        ...records.filter((r) => !isExpired(r, now)).map((r) => r.keyHash),
      ]);
      done.records = records.filter((r) => isExpired(r, now));
      const dedup = new Set(rows.filter((r) => r.dedup).map((r) => r.keyHash));
      const dropped = rows.filter((r) => !kept.has(r.keyHash));
      await deleteIds(
        manager,
        'storage_files',
        done.records.map((r) => r.id),
      );
      await deleteIds(
        manager,
        'storage_objects',
        dropped.map((r) => r.id),
      );
      // A plain key's objects are its records' own; shared content goes only with its key.
      const objects = [
        ...done.records.filter((r) => !dedup.has(r.keyHash)).map(objectOf),
        ...dropped
          .filter((r) => r.dedup)
          .map((r) => ({ storeFullName: r.storeFullName, objectKey: r.name, shared: true })),
      ];
      done.retired = await this.retireMany(manager, objects, now);
      return done;
    });
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
      const inserted = await sql(
        manager,
        'INSERT INTO storage_retired_objects (storeFullName, objectKey, objectHash, shared, removeAfter, attempts, lastError, createdAt) ' +
          'VALUES (?, ?, ?, ?, ?, 0, NULL, ?)',
        [object.storeFullName, object.objectKey, objectHash, object.shared ? 1 : 0, now + delaySeconds * 1000, now],
      );
      ids.push(inserted.insertId);
    }
    return ids;
  }

  /**
   * `retire` for many objects, due `now`, in two statements: one multi-row INSERT, and one
   * SELECT of the ids it made (`createdAt` = `now` and the object hashes; ids are not assumed
   * consecutive, which MySQL does not promise under every `innodb_autoinc_lock_mode`).
   */
  private async retireMany(manager: EntityManager, objects: Retiring[], now: number): Promise<number[]> {
    const unique = [...new Map(objects.map((o) => [keyHash(o.storeFullName, o.objectKey), o])).entries()];
    if (unique.length === 0) return [];
    await sql(
      manager,
      'INSERT INTO storage_retired_objects (storeFullName, objectKey, objectHash, shared, removeAfter, attempts, lastError, createdAt) VALUES ' +
        unique.map(() => '(?, ?, ?, ?, ?, 0, NULL, ?)').join(', '),
      unique.flatMap(([hash, o]) => [o.storeFullName, o.objectKey, hash, o.shared ? 1 : 0, now, now]),
    );
    const made = await sql<{ id: number | string }>(
      manager,
      `SELECT id FROM storage_retired_objects WHERE objectHash IN (${placeholders(unique.length)}) AND createdAt = ? AND removeAfter <= ?`,
      [...unique.map(([hash]) => hash), now, now],
    );
    return made.rows.map((r) => Number(r.id));
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

/** What the sweeper reports of a record it removed, and what retiring its object needs. */
export type SweptRecord = Pick<
  FileEntity,
  'id' | 'keyHash' | 'storeFullName' | 'name' | 'objectKey' | 'fileName' | 'expires'
>;

/** What `removeExpiredBatch` did. */
export interface ExpiredBatch {
  records: SweptRecord[];
  /** Queue rows of the objects that lost their last reference: due at once. */
  retired: number[];
  /** Keys another transaction held: left for a later run. */
  busy: number;
  /** Keys with records but no row: to be taken one by one (`removeRecords`). */
  missing: ObjectRef[];
}

function sweptRecord(raw: Record<string, unknown>): SweptRecord {
  return {
    id: Number(raw.id),
    keyHash: String(raw.keyHash),
    storeFullName: String(raw.storeFullName),
    name: String(raw.name),
    objectKey: String(raw.objectKey),
    fileName: String(raw.fileName),
    expires: raw.expires === null ? null : Number(raw.expires),
  };
}

async function deleteIds(manager: EntityManager, table: string, ids: number[]): Promise<void> {
  if (ids.length > 0) await sql(manager, `DELETE FROM ${table} WHERE id IN (${placeholders(ids.length)})`, ids);
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
