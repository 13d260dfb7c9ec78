import { Inject, Injectable, Logger } from '@nestjs/common';
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
import { insertReturns, placeholders, sql, type SqlResult } from '../ledger/sql';
import { StorageObjectEntity } from '../database/entities/storage-object.entity';
import { GroupCommit, settle, type Outcome } from './group-commit';
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
 * The claim protocol of an upload: `claim` (decide where the bytes go, pin), `heartbeat` while
 * bytes arrive, then `commit` (the pin becomes the record: the switch) or `abandon` (the pin
 * goes, and the object it wrote is retired). Commits and abandons hold the key's lock, and so
 * does the claim of a content-addressed upload.
 *
 * A plain upload writes a version object of its own, so plain uploads to one path never touch
 * each other's bytes and need no exclusion: the last to commit is the path's live version, and
 * the versions it supersedes are retired after a grace period for readers still streaming them.
 * So a plain claim takes no lock (its pin is written before the first byte, two statements),
 * and the pins and commits of plain uploads that start or finish together go as one batch each
 * (`GroupCommit`: one transaction, and on MySQL one durable commit, for the batch): an upload
 * of a new key costs about 3 statements on MySQL under load, 8 alone (it was 15).
 */
@Injectable()
export class UploadClaims {
  private readonly logger = new Logger(UploadClaims.name);
  /** Plain commits of uploads that finish together: one transaction for them all. */
  private readonly plainCommits: GroupCommit<CommitJob, Committed>;
  /** Pins of plain uploads that start together: one statement for their rows, one for the pins. */
  private readonly plainPins: GroupCommit<PinJob, number>;
  /** The database answers `INSERT ... RETURNING` (asked once, at the first batch that needs it). */
  private returning: boolean | undefined;

  constructor(
    private readonly objects: ObjectLedger,
    private readonly locks: KeyLocks,
    @Inject(Clock) private readonly clock: Clock,
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectStorageOptions() private readonly options: ResolvedStorageOptions,
  ) {
    // SQLite's work never waits, so a batch would never be running when the next job comes:
    // there, batches gather what arrives within one turn of the event loop.
    const linger = !locks.mysql;
    this.plainCommits = new GroupCommit(
      (jobs) => this.commitPlainBatch(jobs),
      (job) => job.claim.ref.keyHash,
      64,
      linger,
    );
    this.plainPins = new GroupCommit(
      (jobs) => this.pinBatch(jobs),
      (job) => job.objectHash,
      64,
      linger,
    );
  }

  /**
   * Claims `ref` for an upload and pins it. A content-addressed upload verifies when the key
   * already holds `md5` (reviving the object if it was queued for removal), else writes. A key
   * holds either kind, never both: a plain upload never overwrites shared content, nor the
   * reverse (`E_CONFLICT` while the other kind has records or live uploads; for a plain upload
   * this is checked at its commit, see `pinVersion`). A content-addressed claim releases on the
   * way the key's pins of processes known to be dead, or past their lease, rather than waiting
   * them out.
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
      const pin = await sql(manager, `${INSERT_PIN} VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, [
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
    const objectKey = versionKey(ref.name, this.clock.now());
    const pinId = await this.plainPins.submit({ ref, objectKey, objectHash: keyHash(ref.storeFullName, objectKey) });
    return { ref, pinId, dedup: false, objectKey, mode: 'write' };
  }

  /**
   * The pins of plain uploads that start together (`GroupCommit`), with their keys' rows: two
   * statements (the rows, the pins with their ids), three where the database cannot return the
   * ids of an insert (MySQL: read back by object).
   */
  private async pinBatch(jobs: PinJob[]): Promise<Array<Outcome<number>>> {
    if (jobs.length === 1) return [await settle(this.insertPins(jobs).then((ids) => ids[0]))];
    try {
      return (await this.insertPins(jobs)).map((ok) => ({ ok }));
    } catch (err) {
      // Each upload gets its own outcome, not another's.
      this.logger.debug(`a batch of ${jobs.length} pins failed, taken one by one: ${err}`);
      return Promise.all(jobs.map((job) => settle(this.insertPins([job]).then((ids) => ids[0]))));
    }
  }

  private insertPins(jobs: PinJob[]): Promise<number[]> {
    return this.locks.exclusive(async () => {
      const runner = this.dataSource.createQueryRunner();
      try {
        const { manager } = runner;
        await this.locks.ensureRows(
          manager,
          jobs.map((job) => job.ref),
        );
        const now = this.clock.now();
        const returning = jobs.length > 1 && (await this.returns(manager));
        const pins = await sql<IdRow>(
          manager,
          `${INSERT_PIN} VALUES ${jobs.map(() => '(?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}${returning ? RETURNING : ''}`,
          jobs.flatMap((job) => [
            job.ref.keyHash,
            'write',
            job.objectKey,
            job.objectHash,
            PROCESS_IDENTITY,
            0,
            now,
            now,
          ]),
        );
        if (jobs.length === 1) return [pins.insertId];
        const hashes = jobs.map((job) => job.objectHash);
        const ids = await idsByObject(manager, 'storage_upload_pins', returning ? pins : null, hashes);
        return jobs.map((job) => {
          const id = ids.get(job.objectHash);
          if (id === undefined) throw new Error(`the pin of '${job.objectKey}' was not found after its insert`);
          return id;
        });
      } finally {
        await runner.release();
      }
    });
  }

  private async returns(manager: EntityManager): Promise<boolean> {
    this.returning ??= await insertReturns(manager);
    return this.returning;
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
  commit(claim: UploadClaim, fields: Omit<RecordFields, 'objectKey'>): Promise<Committed> {
    return claim.dedup ? this.commitOne(claim, fields) : this.plainCommits.submit({ claim, fields });
  }

  /** `commit` of one upload, in a transaction of its own. */
  private async commitOne(claim: UploadClaim, fields: Omit<RecordFields, 'objectKey'>): Promise<Committed> {
    const { ref } = claim;
    const saved = await this.locks.run(ref, async ({ manager, row }) => {
      const now = this.clock.now();
      const unpinned = await sql(manager, 'DELETE FROM storage_upload_pins WHERE id = ?', [claim.pinId]);
      if (unpinned.affected === 0) return null;
      // A plain claim took no lock: a key holding content stored by md5 refuses it here.
      if (!claim.dedup && row.dedup) await this.becomePlain({ manager, row }, now);
      // Under the lock every record of the key is older than the one this commit makes.
      const older = claim.dedup ? [] : await olderVersions(manager, [ref.keyHash]);
      const record = recordOf(claim, fields, now);
      await insertRecords(manager, [record], false);
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
   * Plain commits that arrived together (`GroupCommit`), in one transaction whose number of
   * statements does not grow with the batch: the keys' locks (in key order), their pins
   * deleted, their older records read, the new records inserted (their ids returned by the
   * insert where the database can, else read back), the older ones deleted and their objects
   * retired after the reader grace (one insert per retired object).
   * What this batch cannot decide alone goes through `commitOne`, one by one: a key without a
   * row or holding content stored by md5, a lost pin (the batch is rolled back for it), or a
   * failed batch (each upload then gets its own outcome). Gap: one batch runs at a time, so a
   * key whose lock another transaction holds for long delays the plain commits of other keys
   * that joined its batch or wait for the next, until that wait ends or times out (a failed
   * batch's commits then go one by one). Who holds a plain key's lock holds it briefly today.
   */
  private async commitPlainBatch(jobs: CommitJob[]): Promise<Array<Outcome<Committed>>> {
    if (jobs.length === 1) return [await settle(this.commitOne(jobs[0].claim, jobs[0].fields))];
    let done = new Map<CommitJob, Committed>();
    try {
      done = await this.locks.runMany(
        jobs.map((job) => job.claim.ref),
        ({ manager, rows }) => this.recordBatch(manager, rows, jobs),
      );
    } catch (err) {
      if (!(err instanceof OneByOne))
        this.logger.debug(`a batch of ${jobs.length} commits failed, taken one by one: ${err}`);
    }
    return Promise.all(
      jobs.map((job) => {
        const committed = done.get(job);
        return committed ? { ok: committed } : settle(this.commitOne(job.claim, job.fields));
      }),
    );
  }

  private async recordBatch(manager: EntityManager, rows: StorageObjectEntity[], jobs: CommitJob[]) {
    const plain = new Set(rows.filter((row) => !row.dedup).map((row) => row.keyHash));
    const here = jobs.filter((job) => plain.has(job.claim.ref.keyHash));
    const done = new Map<CommitJob, Committed>();
    if (here.length === 0) return done;
    const unpinned = await sql(
      manager,
      `DELETE FROM storage_upload_pins WHERE id IN (${placeholders(here.length)})`,
      here.map((job) => job.claim.pinId),
    );
    if (unpinned.affected !== here.length) throw new OneByOne();
    const now = this.clock.now();
    const older = await olderVersions(
      manager,
      here.map((job) => job.claim.ref.keyHash),
    );
    const records = here.map((job) => recordOf(job.claim, job.fields, now));
    await insertRecords(manager, records, here.length > 1 && (await this.returns(manager)));
    if (older.length > 0) {
      await sql(
        manager,
        `DELETE FROM storage_files WHERE id IN (${placeholders(older.length)})`,
        older.map((r) => r.id),
      );
    }
    const grace = this.options.lifecycle.versionGraceSeconds;
    for (const [i, job] of here.entries()) {
      const objects = older
        .filter((r) => r.keyHash === job.claim.ref.keyHash)
        .map((r) => ({ storeFullName: r.storeFullName, objectKey: r.objectKey, shared: false }));
      const retired = objects.length > 0 ? await this.objects.retire(manager, objects, grace) : [];
      done.set(job, { record: records[i], retired });
    }
    return done;
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
    // A plain upload's version is its own (a plain pin may sit on a key holding md5 content: it
    // took no lock, and is refused at its commit); shared content goes with the key below.
    const versions = writes
      .filter((p) => p.objectKey !== row.name)
      .map((p) => ({ storeFullName: row.storeFullName, objectKey: p.objectKey, shared: false }));
    const retired = await this.objects.retire(manager, versions, 0);
    if (!collect) return retired;
    const swept = await this.objects.collectIfUnreferenced(locked, this.clock.now(), writes.length > 0);
    return [...retired, ...swept.retired];
  }
}

/** One plain commit waiting for its batch. */
interface CommitJob {
  claim: UploadClaim;
  fields: Omit<RecordFields, 'objectKey'>;
}

/** Thrown inside a batch's transaction to roll it back and take its commits one by one. */
class OneByOne extends Error {}

/** The keys' records, as a plain commit replaces them. */
async function olderVersions(manager: EntityManager, hashes: string[]) {
  const { rows } = await sql<Record<string, unknown>>(
    manager,
    hashes.length === 1
      ? 'SELECT id, keyHash, storeFullName, objectKey FROM storage_files WHERE keyHash = ?'
      : `SELECT id, keyHash, storeFullName, objectKey FROM storage_files WHERE keyHash IN (${placeholders(hashes.length)})`,
    hashes,
  );
  return rows.map((r) => ({
    id: Number(r.id),
    keyHash: String(r.keyHash),
    storeFullName: String(r.storeFullName),
    objectKey: String(r.objectKey),
  }));
}

/** What a multi-row insert returns where the database can: each row's id, by its object. */
const RETURNING = ' RETURNING id, objectHash';

const INSERT_PIN =
  'INSERT INTO storage_upload_pins (keyHash, kind, objectKey, objectHash, owner, generation, createdAt, heartbeatAt)';

/** A plain upload's pin waiting for its batch. */
interface PinJob {
  ref: ObjectRef;
  objectKey: string;
  objectHash: string;
}

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

/** The file record the pin becomes, as the caller answers with it (its id once inserted). */
function recordOf(claim: UploadClaim, fields: Omit<RecordFields, 'objectKey'>, now: number): FileEntity {
  const { expiresSeconds, ...rest } = fields;
  return Object.assign(new FileEntity(), {
    ...rest,
    keyHash: claim.ref.keyHash,
    objectKey: claim.objectKey,
    objectHash: keyHash(claim.ref.storeFullName, claim.objectKey),
    uid: rest.uid.slice(0, 255),
    fileName: rest.fileName.slice(0, 1024),
    expires: expiresSeconds === null ? null : now + expiresSeconds * 1000,
    uploadTime: now,
    retentionPeriod: expiresSeconds,
  });
}

/**
 * Inserts `records` and sets their ids: one record takes the id its INSERT made; several are
 * inserted in one statement and their ids matched by object (each a version of its own, or a
 * distinct key's content), not assumed consecutive: returned by the insert itself (`returning`,
 * where the database can), else read back.
 */
async function insertRecords(manager: EntityManager, records: FileEntity[], returning: boolean): Promise<void> {
  const row = `(${placeholders(RECORD_COLUMNS.length)})`;
  const inserted = await sql<IdRow>(
    manager,
    `INSERT INTO storage_files (${RECORD_COLUMNS.join(', ')}) VALUES ${records.map(() => row).join(', ')}${returning ? RETURNING : ''}`,
    records.flatMap((record) => RECORD_COLUMNS.map((column) => record[column])),
  );
  if (records.length === 1) {
    records[0].id = inserted.insertId;
    return;
  }
  const hashes = records.map((record) => record.objectHash);
  const ids = await idsByObject(manager, 'storage_files', returning ? inserted : null, hashes);
  for (const record of records) {
    const id = ids.get(record.objectHash);
    if (id === undefined) throw new Error(`the record of '${record.objectKey}' was not found after its insert`);
    record.id = id;
  }
}

/** A row's id and object, as a multi-row insert returns them or they are read back. */
type IdRow = { id: number | string; objectHash: string };

/**
 * The ids of rows just inserted into `table`, by object hash: what the insert returned, else
 * (`returned` null: the database cannot return them) read back by object.
 */
async function idsByObject(
  manager: EntityManager,
  table: 'storage_upload_pins' | 'storage_files',
  returned: SqlResult<IdRow> | null,
  hashes: string[],
): Promise<Map<string, number>> {
  const made =
    returned ??
    (await sql<IdRow>(
      manager,
      `SELECT id, objectHash FROM ${table} WHERE objectHash IN (${placeholders(hashes.length)})`,
      hashes,
    ));
  return new Map(made.rows.map((r) => [r.objectHash, Number(r.id)]));
}

function conflict(ref: ObjectRef, reason: string): StorageError {
  return new StorageError(StorageErrorCode.CONFLICT, `cannot upload to ${quoteInput(ref.name)}: ${reason}`, {
    key: ref.name,
    storage: ref.storeFullName,
  });
}
