import { Injectable } from '@nestjs/common';
import { LessThan } from 'typeorm';
import { StorageError, StorageErrorCode } from '../errors/storage.error';
import { FileEntity } from '../file.entity';
import { SKIPPED, type ObjectRef } from './key-locks';
import { ObjectStore, type RecordFields } from './object-store';
import { UploadPinEntity } from './upload-pin.entity';

/** An upload's claim on its key, from `claim` until `commit` or `abandon`. */
export interface UploadClaim {
  ref: ObjectRef;
  pinId: number;
  dedup: boolean;
  /** `verify`: the content is already stored; the upload only proves it has the same bytes. */
  mode: 'write' | 'verify';
  generation: number;
}

/**
 * The claim protocol of an upload: `claim` (lock, decide write or verify, pin), `heartbeat`
 * while bytes arrive, then `commit` (the pin becomes the record) or `abandon` (the pin goes,
 * and the object with it if nothing else refers to the key). Each step holds the key's lock.
 */
@Injectable()
export class UploadClaims {
  constructor(private readonly objects: ObjectStore) {}

  /**
   * Claims `ref` for an upload and pins it. A plain upload always writes and excludes other
   * plain writers of the key (`E_CONFLICT` while one is in flight: two renames could otherwise
   * land in one order and their records commit in the other). A content-addressed upload
   * verifies when the key already holds `md5`, else writes; identical bytes need no exclusion.
   * A key holds either kind, never both: a plain upload never overwrites shared content.
   */
  async claim(ref: ObjectRef, kind: { dedup: boolean; md5?: string }): Promise<UploadClaim> {
    const claim = await this.objects.locks.run(ref, async ({ manager, row }) => {
      const now = this.objects.clock.now();
      const pins = await manager.find(UploadPinEntity, { where: { keyHash: ref.keyHash } });
      const active = pins.filter((pin) => pin.heartbeatAt > now - this.objects.lifecycle.uploadLeaseSeconds * 1000);
      if (row.dedup !== kind.dedup) {
        const inUse = row.md5 !== null || active.length > 0 || (await this.objects.liveCount(manager, ref, now)) > 0;
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
    await this.objects.locks.exclusive(() =>
      this.objects.dataSource
        .getRepository(UploadPinEntity)
        .update({ id: claim.pinId }, { heartbeatAt: this.objects.clock.now() }),
    );
  }

  /**
   * Turns the pin into the file record. A plain write replaces the key's older records (their
   * bytes are gone). Refused (`E_CONFLICT`) when the claim was lost meanwhile: the pin reaped
   * as abandoned, or a later plain writer took the key; then nothing is recorded and, if
   * nothing else refers to the key, what this upload may have written is removed.
   */
  async commit(claim: UploadClaim, fields: RecordFields): Promise<FileEntity> {
    const { ref } = claim;
    const saved = await this.objects.locks.run(ref, async (locked) => {
      const { manager, row } = locked;
      const now = this.objects.clock.now();
      const pin = await manager.findOne(UploadPinEntity, { where: { id: claim.pinId } });
      const superseded = claim.mode === 'write' && !claim.dedup && row.generation !== claim.generation;
      if (!pin || superseded) {
        if (pin) await manager.delete(UploadPinEntity, { id: pin.id });
        await this.objects.collectIfUnreferenced(locked, now, true);
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
  async abandon(claim: UploadClaim): Promise<void> {
    await this.objects.locks.run(claim.ref, async (locked) => {
      await locked.manager.delete(UploadPinEntity, { id: claim.pinId });
      await this.objects.collectIfUnreferenced(locked, this.objects.clock.now(), claim.mode === 'write');
    });
  }
}

function conflict(ref: ObjectRef, reason: string): StorageError {
  return new StorageError(StorageErrorCode.CONFLICT, `cannot upload to '${ref.name}': ${reason}`, {
    key: ref.name,
    storage: ref.storeFullName,
  });
}
