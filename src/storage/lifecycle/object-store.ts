import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { In, LessThan, type DataSource, type EntityManager } from 'typeorm';
import { StorageError, StorageErrorCode } from '../errors/storage.error';
import { FileEntity } from '../file.entity';
import { md5Hex } from '../keys';
import { STORAGE_MODULE_OPTIONS } from '../storage.module-definition';
import type { StorageModuleOptions } from '../storage.options';
import { Clock } from './clock';
import { KeyLocks, SKIPPED, type LockedKey, type ObjectRef, type ObjectRemover } from './key-locks';
import { resolveLifecycleOptions, type ResolvedLifecycleOptions } from './lifecycle.options';
import { StorageObjectEntity } from './storage-object.entity';
import { UploadPinEntity } from './upload-pin.entity';

/** An upload's claim on its key, from `claimUpload` until `commitUpload` or `abandonUpload`. */
export interface UploadClaim {
  ref: ObjectRef;
  pinId: number;
  dedup: boolean;
  /** `verify`: the content is already stored; the upload only proves it has the same bytes. */
  mode: 'write' | 'verify';
  generation: number;
}

/** The record an upload commits; times are filled in under the lock. */
export type RecordFields = Pick<
  FileEntity,
  'md5' | 'uid' | 'name' | 'size' | 'type' | 'fileName' | 'fullName' | 'uploadUser' | 'updateUserId' | 'storeFullName'
> & { expiresSeconds: number | null };

export interface RemovedRecords {
  records: FileEntity[];
  objectRemoved: boolean;
}

/** Which records of a key `removeRecords` takes: some ids, the expired ones, or all. */
export type RecordSelector = { ids: number[] } | { expired: true } | { all: true };

/**
 * The references between records and stored objects, kept correct under concurrency. A key's
 * references are its unexpired records plus its upload pins; its object is removed in the
 * locked step that finds none left (its expired records go with it), and in no other way.
 * Every method takes the key's lock (`KeyLocks`), so a reference is never added to an object
 * that another replica is removing, and an object is never removed while one exists.
 */
@Injectable()
export class ObjectStore {
  readonly lifecycle: ResolvedLifecycleOptions;
  readonly locks: KeyLocks;
  private remover?: ObjectRemover;

  constructor(
    @InjectDataSource() readonly dataSource: DataSource,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(STORAGE_MODULE_OPTIONS) options: StorageModuleOptions,
  ) {
    this.lifecycle = resolveLifecycleOptions(options.lifecycle);
    this.locks = new KeyLocks(
      dataSource,
      () => clock.now(),
      () => this.requireRemover(),
    );
  }

  /** Set once by `StorageService`: object removal goes through its `removeObject`. */
  useRemover(remover: ObjectRemover): void {
    this.remover = remover;
  }

  ref(storeFullName: string, name: string): ObjectRef {
    return { storeFullName, name, keyHash: keyHash(storeFullName, name) };
  }

  /**
   * Claims `ref` for an upload and pins it. A plain upload always writes and excludes other
   * plain writers of the key (`E_CONFLICT` while one is in flight: two renames could otherwise
   * land in one order and their records commit in the other). A content-addressed upload
   * verifies when the key already holds `md5`, else writes; identical bytes need no exclusion.
   * A key holds either kind, never both: a plain upload never overwrites shared content.
   */
  async claimUpload(ref: ObjectRef, kind: { dedup: boolean; md5?: string }): Promise<UploadClaim> {
    const claim = await this.locks.run(ref, async ({ manager, row }) => {
      const now = this.clock.now();
      const pins = await manager.find(UploadPinEntity, { where: { keyHash: ref.keyHash } });
      const active = pins.filter((pin) => pin.heartbeatAt > now - this.lifecycle.uploadLeaseSeconds * 1000);
      if (row.dedup !== kind.dedup) {
        const inUse = row.md5 !== null || active.length > 0 || (await this.liveCount(manager, ref, now)) > 0;
        if (inUse) {
          throw conflict(
            ref,
            kind.dedup ? 'it holds a file uploaded without md5' : 'it holds content stored by md5; upload with md5',
          );
        }
        Object.assign(row, { dedup: kind.dedup, md5: null, size: null });
      }
      if (!kind.dedup && active.some((pin) => pin.kind === 'write')) {
        throw conflict(ref, 'another upload to it is in progress; retry when that one has finished');
      }
      const mode = kind.dedup && row.md5 === kind.md5 ? 'verify' : 'write';
      if (mode === 'write') row.generation += 1;
      row.updatedAt = now;
      await manager.save(row);
      const pin = await manager.save(
        manager.create(UploadPinEntity, {
          keyHash: ref.keyHash,
          kind: mode,
          generation: row.generation,
          createdAt: now,
          heartbeatAt: now,
        }),
      );
      return { ref, pinId: pin.id, dedup: kind.dedup, mode, generation: row.generation } satisfies UploadClaim;
    });
    if (claim === SKIPPED) throw new Error('unreachable: claimUpload never skips');
    return claim;
  }

  /** Keeps a long upload's pin fresh, so the reconciler does not take it for abandoned. */
  async heartbeat(claim: UploadClaim): Promise<void> {
    await this.locks.exclusive(() =>
      this.dataSource.getRepository(UploadPinEntity).update({ id: claim.pinId }, { heartbeatAt: this.clock.now() }),
    );
  }

  /**
   * Turns the pin into the file record. A plain write replaces the key's older records (their
   * bytes are gone). Refused (`E_CONFLICT`) when the claim was lost meanwhile: the pin reaped
   * as abandoned, or a later plain writer took the key; then nothing is recorded and, if
   * nothing else refers to the key, what this upload may have written is removed.
   */
  async commitUpload(claim: UploadClaim, fields: RecordFields): Promise<FileEntity> {
    const { ref } = claim;
    const saved = await this.locks.run(ref, async (locked) => {
      const { manager, row } = locked;
      const now = this.clock.now();
      const pin = await manager.findOne(UploadPinEntity, { where: { id: claim.pinId } });
      const superseded = claim.mode === 'write' && !claim.dedup && row.generation !== claim.generation;
      if (!pin || superseded) {
        if (pin) await manager.delete(UploadPinEntity, { id: pin.id });
        await this.collectIfUnreferenced(locked, now, true);
        return null;
      }
      await manager.delete(UploadPinEntity, { id: pin.id });
      const { expiresSeconds, ...rest } = fields;
      const record = await manager.save(
        manager.create(FileEntity, {
          ...rest,
          keyHash: ref.keyHash,
          uid: rest.uid.slice(0, 255),
          fileName: rest.fileName.slice(0, 1024),
          expires: expiresSeconds === null ? null : now + expiresSeconds * 1000,
          uploadTime: now,
          retentionPeriod: expiresSeconds,
        }),
      );
      if (!claim.dedup) await manager.delete(FileEntity, { keyHash: ref.keyHash, id: LessThan(record.id) });
      if (claim.mode === 'write') Object.assign(row, { md5: fields.md5, size: fields.size });
      row.updatedAt = now;
      await manager.save(row);
      return record;
    });
    if (saved === SKIPPED || saved === null) {
      throw conflict(
        ref,
        'the upload lost its claim (it went too long without progress, or was replaced); upload again',
      );
    }
    return saved;
  }

  /** Releases a failed upload's pin; removes the object when nothing else refers to the key. */
  async abandonUpload(claim: UploadClaim): Promise<void> {
    await this.locks.run(claim.ref, async (locked) => {
      await locked.manager.delete(UploadPinEntity, { id: claim.pinId });
      await this.collectIfUnreferenced(locked, this.clock.now(), claim.mode === 'write');
    });
  }

  /**
   * Removes the selected records of `ref` and, when no reference is left, the object with the
   * key's remaining (expired) records. `SKIPPED` when `skipLocked` found the key busy.
   */
  async removeRecords(
    ref: ObjectRef,
    selector: RecordSelector,
    options: { skipLocked?: boolean } = {},
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
        if (chosen.length > 0) await locked.manager.delete(FileEntity, { id: In(chosen.map((r) => r.id)) });
        const swept = await this.collectIfUnreferenced(locked, now, records.length > 0);
        return { records: [...chosen, ...swept.records], objectRemoved: swept.objectRemoved };
      },
      options,
    );
  }

  /** Unexpired records plus upload pins of `ref`: what keeps its object. */
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
   * records and its row, and removes the object (`mayHaveObject` false for a row this lock
   * just made for a key that had nothing: there is no object of ours to remove).
   */
  async collectIfUnreferenced(locked: LockedKey, now: number, mayHaveObject: boolean): Promise<RemovedRecords> {
    const { manager, row, created } = locked;
    const keyHash = row.keyHash;
    const records = await manager.find(FileEntity, { where: { keyHash } });
    const pins = await manager.count(UploadPinEntity, { where: { keyHash } });
    if (pins > 0 || records.some((r) => !isExpired(r, now))) return { records: [], objectRemoved: false };
    if (records.length > 0) await manager.delete(FileEntity, { id: In(records.map((r) => r.id)) });
    await manager.delete(StorageObjectEntity, { id: row.id });
    const objectRemoved = !created || mayHaveObject || records.length > 0;
    if (objectRemoved) locked.removeObject();
    return { records, objectRemoved };
  }

  private liveCount(manager: EntityManager, ref: ObjectRef, now: number): Promise<number> {
    return manager
      .createQueryBuilder(FileEntity, 'f')
      .where('f.keyHash = :keyHash', { keyHash: ref.keyHash })
      .andWhere('(f.expires IS NULL OR f.expires > :now)', { now })
      .getCount();
  }

  private requireRemover(): ObjectRemover {
    if (!this.remover) throw new Error('ObjectStore has no remover: StorageService registers it at construction');
    return this.remover;
  }
}

export function keyHash(storage: string, key: string): string {
  return md5Hex(`${storage}\u0000${key}`);
}

export function isExpired(record: Pick<FileEntity, 'expires'>, now: number): boolean {
  return record.expires !== null && record.expires <= now;
}

function conflict(ref: ObjectRef, reason: string): StorageError {
  return new StorageError(StorageErrorCode.CONFLICT, `cannot upload to '${ref.name}': ${reason}`, {
    key: ref.name,
    storage: ref.storeFullName,
  });
}
