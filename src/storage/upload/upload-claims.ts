import { Inject, Injectable } from '@nestjs/common';
import { In, LessThan } from 'typeorm';
import { quoteInput, StorageError, StorageErrorCode } from '../errors/storage.error';
import { FileEntity } from '../database/entities/file.entity';
import { versionKey } from '../keys/keys';
import { SKIPPED, type LockedKey, type ObjectRef } from '../ledger/key-locks';
import { keyHash, ObjectLedger, type RecordFields } from '../ledger/object-ledger';
import { isDeadOwner, PROCESS_IDENTITY } from '../ledger/process-identity';
import { RetiredObjectEntity } from '../database/entities/retired-object.entity';
import { UploadPinEntity } from '../database/entities/upload-pin.entity';
import { Clock } from '../ledger/clock';
import { KeyLocks } from '../ledger/key-locks';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { InjectStorageOptions, type ResolvedStorageOptions } from '../options/resolved-options';

/** An upload's claim on its key, from `claim` until `commit` or `abandon`. */
export interface UploadClaim {
  ref: ObjectRef;
  pinId: number;
  dedup: boolean;
  /** Where the bytes go: a new version key (plain) or `{md5}{suffix}` (content-addressed). */
  objectKey: string;
  /** `verify`: the content is already stored; the upload only proves it has the same bytes. */
  mode: 'write' | 'verify';
}

/** What a commit made: the record, and the superseded objects it queued for removal. */
export interface Committed {
  record: FileEntity;
  retired: number[];
}

/**
 * The claim protocol of an upload: `claim` (lock, decide where the bytes go, pin), `heartbeat`
 * while bytes arrive, then `commit` (the pin becomes the record: the switch) or `abandon` (the
 * pin goes, and the object it wrote is retired). Each step holds the key's lock.
 *
 * A plain upload writes a version object of its own, so plain uploads to one path never touch
 * each other's bytes and need no exclusion: the last to commit is the path's live version, and
 * the versions it supersedes are retired after a grace period for readers still streaming them.
 */
@Injectable()
export class UploadClaims {
  constructor(
    private readonly objects: ObjectLedger,
    private readonly locks: KeyLocks,
    @Inject(Clock) private readonly clock: Clock,
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectStorageOptions() private readonly options: ResolvedStorageOptions,
  ) {}

  /**
   * Claims `ref` for an upload and pins it. A content-addressed upload verifies when the key
   * already holds `md5` (reviving the object if it was queued for removal), else writes. A key
   * holds either kind, never both: a plain upload never overwrites shared content, nor the
   * reverse (`E_CONFLICT` while the other kind has records or live uploads). Pins of processes
   * known to be dead, or past their lease, are released on the way rather than waited out.
   */
  async claim(ref: ObjectRef, kind: { dedup: boolean; md5?: string }): Promise<UploadClaim> {
    const claim = await this.locks.run(ref, async (locked) => {
      const { manager, row } = locked;
      const now = this.clock.now();
      await this.releaseAbandoned(locked, false);
      const pins = await manager.count(UploadPinEntity, { where: { keyHash: ref.keyHash } });
      if (row.dedup !== kind.dedup) {
        const inUse = row.md5 !== null || pins > 0 || (await this.objects.liveCount(manager, ref, now)) > 0;
        if (inUse) {
          throw conflict(
            ref,
            kind.dedup ? 'it holds a file uploaded without md5' : 'it holds content stored by md5; upload with md5',
          );
        }
        Object.assign(row, { dedup: kind.dedup, md5: null, size: null });
      }
      const mode = kind.dedup && row.md5 === kind.md5 ? 'verify' : 'write';
      const objectKey = kind.dedup ? ref.name : versionKey(ref.name, now);
      const objectHash = keyHash(ref.storeFullName, objectKey);
      if (kind.dedup) await manager.delete(RetiredObjectEntity, { objectHash });
      row.generation += 1;
      row.updatedAt = now;
      await manager.save(row);
      const pin = await manager.save(
        manager.create(UploadPinEntity, {
          keyHash: ref.keyHash,
          kind: mode,
          objectKey,
          objectHash,
          owner: PROCESS_IDENTITY,
          generation: row.generation,
          createdAt: now,
          heartbeatAt: now,
        }),
      );
      return { ref, pinId: pin.id, dedup: kind.dedup, objectKey, mode } satisfies UploadClaim;
    });
    if (claim === SKIPPED) throw new Error('unreachable: a claim never skips');
    return claim;
  }

  /** Keeps a long upload's pin fresh, so it is not taken for abandoned. */
  async heartbeat(claim: UploadClaim): Promise<void> {
    await this.locks.exclusive(() =>
      this.dataSource.getRepository(UploadPinEntity).update({ id: claim.pinId }, { heartbeatAt: this.clock.now() }),
    );
  }

  /**
   * Turns the pin into the file record, in one transaction: the switch. A plain write replaces
   * the path's older records and retires their objects after the reader grace period. Refused
   * (`E_CONFLICT`) when the pin is gone (released as abandoned meanwhile): then nothing is
   * recorded, and what this upload wrote was already retired with its pin.
   */
  async commit(claim: UploadClaim, fields: Omit<RecordFields, 'objectKey'>): Promise<Committed> {
    const { ref } = claim;
    const saved = await this.locks.run(ref, async ({ manager, row }) => {
      const now = this.clock.now();
      const pin = await manager.findOne(UploadPinEntity, { where: { id: claim.pinId } });
      if (!pin) return null;
      await manager.delete(UploadPinEntity, { id: pin.id });
      const { expiresSeconds, ...rest } = fields;
      const record = await manager.save(
        manager.create(FileEntity, {
          ...rest,
          keyHash: ref.keyHash,
          objectKey: claim.objectKey,
          objectHash: pin.objectHash,
          uid: rest.uid.slice(0, 255),
          fileName: rest.fileName.slice(0, 1024),
          expires: expiresSeconds === null ? null : now + expiresSeconds * 1000,
          uploadTime: now,
          retentionPeriod: expiresSeconds,
        }),
      );
      let retired: number[] = [];
      if (!claim.dedup) {
        const older = await manager.find(FileEntity, { where: { keyHash: ref.keyHash, id: LessThan(record.id) } });
        if (older.length > 0) await manager.delete(FileEntity, { id: In(older.map((r) => r.id)) });
        const objects = older.map((r) => ({ storeFullName: r.storeFullName, objectKey: r.objectKey, shared: false }));
        retired = await this.objects.retire(manager, objects, this.options.lifecycle.versionGraceSeconds);
      }
      if (claim.mode === 'write' && claim.dedup) Object.assign(row, { md5: fields.md5, size: fields.size });
      row.updatedAt = now;
      await manager.save(row);
      return { record, retired };
    });
    if (saved === SKIPPED || saved === null) {
      throw conflict(ref, 'the upload lost its claim (it went too long without progress); upload again');
    }
    return saved;
  }

  /** Releases a failed upload's pin and retires what it wrote; returns the queue rows to purge. */
  async abandon(claim: UploadClaim): Promise<number[]> {
    const retired = await this.locks.run(claim.ref, async (locked) => {
      const pin = await locked.manager.findOne(UploadPinEntity, { where: { id: claim.pinId } });
      return pin ? this.release(locked, [pin], true) : [];
    });
    return retired === SKIPPED ? [] : retired;
  }

  /**
   * Releases the pins of `ref` whose upload is gone (its process dead, or silent past the lease)
   * and retires what they wrote; returns the queue rows. `SKIPPED` when `skipLocked` found the key busy.
   */
  async releaseAbandonedOf(ref: ObjectRef, options: { skipLocked?: boolean } = {}) {
    return this.locks.run(ref, (locked) => this.releaseAbandoned(locked, true), options);
  }

  /** Whether the pin's upload is known to be gone. */
  isAbandoned(pin: Pick<UploadPinEntity, 'owner' | 'heartbeatAt'>): boolean {
    const staleBefore = this.clock.now() - this.options.lifecycle.uploadLeaseSeconds * 1000;
    return pin.heartbeatAt < staleBefore || isDeadOwner(pin.owner);
  }

  /** `collect`: drop the key too when nothing refers to it any more (not when a claim follows). */
  private async releaseAbandoned(locked: LockedKey, collect: boolean): Promise<number[]> {
    const pins = await locked.manager.find(UploadPinEntity, { where: { keyHash: locked.row.keyHash } });
    const gone = pins.filter((pin) => this.isAbandoned(pin));
    return gone.length > 0 ? this.release(locked, gone, collect) : [];
  }

  private async release(locked: LockedKey, pins: UploadPinEntity[], collect: boolean): Promise<number[]> {
    const { manager, row } = locked;
    await manager.delete(UploadPinEntity, { id: In(pins.map((p) => p.id)) });
    const writes = pins.filter((p) => p.kind === 'write');
    const versions = row.dedup
      ? []
      : writes.map((p) => ({ storeFullName: row.storeFullName, objectKey: p.objectKey, shared: false }));
    const retired = await this.objects.retire(manager, versions, 0);
    if (!collect) return retired;
    const swept = await this.objects.collectIfUnreferenced(locked, this.clock.now(), writes.length > 0);
    return [...retired, ...swept.retired];
  }
}

function conflict(ref: ObjectRef, reason: string): StorageError {
  return new StorageError(StorageErrorCode.CONFLICT, `cannot upload to ${quoteInput(ref.name)}: ${reason}`, {
    key: ref.name,
    storage: ref.storeFullName,
  });
}
