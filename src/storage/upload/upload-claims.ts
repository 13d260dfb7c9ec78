import { Inject, Injectable } from '@nestjs/common';
import { In } from 'typeorm';
import { quoteInput, StorageError, StorageErrorCode } from '../errors/storage.error';
import { FileEntity } from '../database/entities/file.entity';
import { versionKey } from '../keys/keys';
import { SKIPPED, type LockedKey, type ObjectRef } from '../ledger/key-locks';
import { keyHash, ObjectLedger, type RecordFields } from '../ledger/object-ledger';
import { isDeadOwner, PROCESS_IDENTITY } from '../ledger/process-identity';
import { UploadPinEntity } from '../database/entities/upload-pin.entity';
import { Clock } from '../ledger/clock';
import { KeyLocks } from '../ledger/key-locks';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { placeholders, sql } from '../ledger/sql';
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

type PinState = Pick<UploadPinEntity, 'id' | 'kind' | 'objectKey' | 'owner' | 'heartbeatAt'>;

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
    if (!kind.dedup) return this.pinVersion(ref);
    const claim = await this.locks.run(ref, async (locked) => {
      const { manager, row } = locked;
      const now = this.clock.now();
      const pins = await this.pinsOf(locked);
      const gone = pins.filter((pin) => this.isAbandoned(pin));
      if (gone.length > 0) await this.release(locked, gone, false);
      if (row.dedup !== kind.dedup) {
        const inUse =
          row.md5 !== null || pins.length > gone.length || (await this.objects.liveCount(manager, ref, now)) > 0;
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
      if (kind.dedup) await sql(manager, 'DELETE FROM storage_retired_objects WHERE objectHash = ?', [objectHash]);
      row.generation += 1;
      row.updatedAt = now;
      await sql(
        manager,
        'UPDATE storage_objects SET dedup = ?, md5 = ?, size = ?, generation = ?, updatedAt = ? WHERE id = ?',
        [row.dedup ? 1 : 0, row.md5, row.size, row.generation, now, row.id],
      );
      const pin = await sql(manager, INSERT_PIN, [
        ref.keyHash,
        mode,
        objectKey,
        objectHash,
        PROCESS_IDENTITY,
        row.generation,
        now,
        now,
      ]);
      return { ref, pinId: pin.insertId, dedup: kind.dedup, objectKey, mode } satisfies UploadClaim;
    });
    if (claim === SKIPPED) throw new Error('unreachable: a claim never skips');
    return claim;
  }

  /**
   * A plain upload's claim, outside the key's lock: its bytes go to a new version key that no
   * other upload or record can name, so nothing has to be decided under the lock before them.
   * Two statements, each its own commit and neither waiting on the key's lock: the key's row,
   * made if missing (every pin has its row, so a dead process's pin is released with what it
   * wrote), then the pin naming the version, written before the first byte (the reconciler
   * keeps what a live pin names, whatever its grace period). What the locked claim decides for
   * a content-addressed upload is checked at `commit`, under the lock: a key that holds content
   * stored by md5 refuses the upload there, and what it wrote is retired by `abandon`. Pins
   * left by dead uploads of the key are released by the reconciler (at start and on its
   * interval) and by the next content-addressed claim, not on the way here. Gap: between the
   * two statements a removal may drop the row again (nothing referred to it yet); the pin then
   * has no row until the commit makes it, and if the process dies first the version it wrote
   * is left for the reconciler's orphan sweep (after `orphanGraceSeconds`), not removed at once.
   */
  private async pinVersion(ref: ObjectRef): Promise<UploadClaim> {
    const now = this.clock.now();
    const objectKey = versionKey(ref.name, now);
    const objectHash = keyHash(ref.storeFullName, objectKey);
    const pinId = await this.locks.exclusive(async () => {
      const runner = this.dataSource.createQueryRunner();
      try {
        await this.locks.ensureRow(runner.manager, ref);
        const pin = await sql(runner.manager, INSERT_PIN, [
          ref.keyHash,
          'write',
          objectKey,
          objectHash,
          PROCESS_IDENTITY,
          0,
          now,
          now,
        ]);
        return pin.insertId;
      } finally {
        await runner.release();
      }
    });
    return { ref, pinId, dedup: false, objectKey, mode: 'write' };
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
      const unpinned = await sql(manager, 'DELETE FROM storage_upload_pins WHERE id = ?', [claim.pinId]);
      if (unpinned.affected === 0) return null;
      // A plain claim took no lock: a key holding content stored by md5 refuses it here.
      if (!claim.dedup && row.dedup) await this.becomePlain({ manager, row }, now);
      // Under the lock every record of the key is older than the one this commit makes.
      const older = claim.dedup ? [] : await olderVersions(manager, ref.keyHash);
      const record = await insertRecord(manager, {
        ...fields,
        keyHash: ref.keyHash,
        objectKey: claim.objectKey,
        objectHash: keyHash(ref.storeFullName, claim.objectKey),
        now,
      });
      let retired: number[] = [];
      if (older.length > 0) {
        await sql(
          manager,
          `DELETE FROM storage_files WHERE id IN (${placeholders(older.length)})`,
          older.map((r) => r.id),
        );
        const objects = older.map((r) => ({ storeFullName: r.storeFullName, objectKey: r.objectKey, shared: false }));
        retired = await this.objects.retire(manager, objects, this.options.lifecycle.versionGraceSeconds);
      }
      // The claim stamped the row's updatedAt; only content stored by md5 changes it here.
      if (claim.mode === 'write' && claim.dedup) {
        await sql(manager, 'UPDATE storage_objects SET md5 = ?, size = ?, updatedAt = ? WHERE id = ?', [
          fields.md5,
          fields.size,
          now,
          row.id,
        ]);
      }
      return { record, retired };
    });
    if (saved === SKIPPED || saved === null) {
      throw conflict(ref, 'the upload lost its claim (it went too long without progress); upload again');
    }
    return saved;
  }

  /**
   * Under the lock, at a plain commit: turns a key that held content stored by md5 into a plain
   * key, or refuses (`E_CONFLICT`, the transaction rolled back) while that content still has
   * records or live uploads. The caller's own pin is already deleted.
   */
  private async becomePlain({ manager, row }: Pick<LockedKey, 'manager' | 'row'>, now: number): Promise<void> {
    const ref = { storeFullName: row.storeFullName, name: row.name, keyHash: row.keyHash };
    const pins = await this.pinsOf({ manager, row, created: false });
    const inUse =
      row.md5 !== null ||
      pins.some((pin) => !this.isAbandoned(pin)) ||
      (await this.objects.liveCount(manager, ref, now)) > 0;
    if (inUse) throw conflict(ref, 'it holds content stored by md5; upload with md5');
    Object.assign(row, { dedup: false, md5: null, size: null, updatedAt: now });
    await sql(manager, 'UPDATE storage_objects SET dedup = 0, md5 = NULL, size = NULL, updatedAt = ? WHERE id = ?', [
      now,
      row.id,
    ]);
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
    const pins = await this.pinsOf(locked);
    const gone = pins.filter((pin) => this.isAbandoned(pin));
    return gone.length > 0 ? this.release(locked, gone, collect) : [];
  }

  /** The key's pins, with what deciding and releasing them needs. */
  private async pinsOf(locked: LockedKey): Promise<PinState[]> {
    const { rows } = await sql<Record<string, unknown>>(
      locked.manager,
      'SELECT id, kind, objectKey, owner, heartbeatAt FROM storage_upload_pins WHERE keyHash = ?',
      [locked.row.keyHash],
    );
    return rows.map((r) => ({
      id: Number(r.id),
      kind: r.kind as PinState['kind'],
      objectKey: String(r.objectKey),
      owner: String(r.owner),
      heartbeatAt: Number(r.heartbeatAt),
    }));
  }

  private async release(locked: LockedKey, pins: PinState[], collect: boolean): Promise<number[]> {
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

/** The key's records, as a plain commit replaces them. */
async function olderVersions(manager: EntityManager, hash: string) {
  const { rows } = await sql<Record<string, unknown>>(
    manager,
    'SELECT id, storeFullName, objectKey FROM storage_files WHERE keyHash = ?',
    [hash],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    storeFullName: String(r.storeFullName),
    objectKey: String(r.objectKey),
  }));
}

const INSERT_PIN =
  'INSERT INTO storage_upload_pins (keyHash, kind, objectKey, objectHash, owner, generation, createdAt, heartbeatAt) ' +
  'VALUES (?, ?, ?, ?, ?, ?, ?, ?)';

const RECORD_COLUMNS = [
  'keyHash',
  'objectKey',
  'objectHash',
  'md5',
  'uid',
  'name',
  'size',
  'type',
  'expires',
  'fileName',
  'fullName',
  'uploadTime',
  'uploadUser',
  'updateUserId',
  'storeFullName',
  'retentionPeriod',
] as const;

/** Writes the file record the pin becomes; returns it as the entity the caller answers with. */
async function insertRecord(
  manager: EntityManager,
  input: Omit<RecordFields, 'objectKey'> & Pick<FileEntity, 'keyHash' | 'objectKey' | 'objectHash'> & { now: number },
): Promise<FileEntity> {
  const { expiresSeconds, now, ...rest } = input;
  const record = Object.assign(new FileEntity(), {
    ...rest,
    uid: rest.uid.slice(0, 255),
    fileName: rest.fileName.slice(0, 1024),
    expires: expiresSeconds === null ? null : now + expiresSeconds * 1000,
    uploadTime: now,
    retentionPeriod: expiresSeconds,
  });
  const inserted = await sql(
    manager,
    `INSERT INTO storage_files (${RECORD_COLUMNS.join(', ')}) VALUES (${placeholders(RECORD_COLUMNS.length)})`,
    RECORD_COLUMNS.map((column) => record[column]),
  );
  record.id = inserted.insertId;
  return record;
}

function conflict(ref: ObjectRef, reason: string): StorageError {
  return new StorageError(StorageErrorCode.CONFLICT, `cannot upload to ${quoteInput(ref.name)}: ${reason}`, {
    key: ref.name,
    storage: ref.storeFullName,
  });
}
