import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { In, type DataSource, type EntityManager } from 'typeorm';
import { FileEntity } from '../file.entity';
import { md5Hex } from '../keys';
import { STORAGE_MODULE_OPTIONS } from '../storage.module-definition';
import type { StorageModuleOptions } from '../storage.options';
import { Clock } from './clock';
import { KeyLocks, SKIPPED, type LockedKey, type ObjectRef, type ObjectRemover } from './key-locks';
import { resolveLifecycleOptions, type ResolvedLifecycleOptions } from './lifecycle.options';
import { StorageObjectEntity } from './storage-object.entity';
import { UploadPinEntity } from './upload-pin.entity';

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
    @Inject(Clock) readonly clock: Clock,
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

  /** Unexpired records of `ref`. */
  liveCount(manager: EntityManager, ref: ObjectRef, now: number): Promise<number> {
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
