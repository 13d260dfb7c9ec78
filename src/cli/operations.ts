import type { INestApplicationContext } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DataSource } from 'typeorm';
import { FileEntity } from '../storage/database/entities/file.entity';
import { StorageObjectEntity } from '../storage/database/entities/storage-object.entity';
import { StorageError, StorageErrorCode, isStorageError } from '../storage/errors/storage.error';
import { keyHash } from '../storage/ledger/object-ledger';
import { StorageRegistry } from '../storage/registry/storage-registry';
import { StorageService } from '../storage/storage.service';
import type { Progress } from './progress';

const PAGE = 100;

/** The live records of one instance with ids above `after`, oldest first. */
async function livePage(dataSource: DataSource, storage: string, after: number): Promise<FileEntity[]> {
  return dataSource
    .getRepository(FileEntity)
    .createQueryBuilder('f')
    .where('f.storeFullName = :storage', { storage })
    .andWhere('f.id > :after', { after })
    .andWhere('(f.expires IS NULL OR f.expires > :now)', { now: Date.now() })
    .orderBy('f.id', 'ASC')
    .take(PAGE)
    .getMany();
}

/** Total size of the live records of `storage`: what a progress bar counts towards. */
export async function liveBytes(app: INestApplicationContext, storage: string): Promise<number> {
  const row = await app
    .get(DataSource)
    .getRepository(FileEntity)
    .createQueryBuilder('f')
    .select('COALESCE(SUM(f.size), 0)', 'total')
    .where('f.storeFullName = :storage', { storage })
    .andWhere('(f.expires IS NULL OR f.expires > :now)', { now: Date.now() })
    .getRawOne<{ total: string | number }>();
  return Number(row?.total ?? 0);
}

/**
 * Counts bytes as the consumer pulls them. Not a 'data' listener: that would switch the stream to
 * flowing mode and lose what arrives before the upload starts reading (after its database steps).
 */
export function counted(source: Readable, progress: Progress | undefined): Readable {
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      progress?.advance(chunk.length);
      done(null, chunk);
    },
  });
  // A read error ends the upload with it, instead of leaving it waiting for bytes.
  source.on('error', (err) => counter.destroy(err));
  return source.pipe(counter);
}

export interface MigrateReport {
  migrated: number;
  /** Records already on the target (an earlier, interrupted run copied them): only switched. */
  resumed: number;
  /** Keys the target holds a newer, different file of: left on the source, still served there. */
  conflicts: string[];
  bytes: number;
}

/**
 * Moves every live record of `from` to `to`, one record at a time, oldest first: the object is
 * streamed from the source into the target through the normal upload path (which hashes it), the
 * copy's md5 must equal the record's, and only then is the source record removed (the ledger
 * retires its object once nothing else refers to it). A crash at any point leaves each record
 * either on the source (served from there) or on the target, or briefly on both with the same
 * content: a rerun recognises a record already on the target (same key, md5, size and uid) and
 * only removes the source's, so nothing is copied twice or lost. Files uploaded to the source
 * while it runs get higher ids and are picked up by the same pass; one that commits after the
 * pass ends stays on the source, still served, for the next run. A key the target already holds
 * is overwritten (the last upload wins, as for any upload) only when the source's file is the
 * newer one; otherwise the record stays on the source and is reported as a conflict.
 */
export async function migrate(
  app: INestApplicationContext,
  from: string,
  to: string,
  options: { progress?: Progress; stop?: () => boolean } = {},
): Promise<MigrateReport> {
  const registry = app.get(StorageRegistry);
  const service = app.get(StorageService);
  const dataSource = app.get(DataSource);
  const source = registry.get(from);
  const target = registry.get(to);
  if (source.name === target.name) {
    throw StorageError.invalidArgument(`--from and --to are both '${source.name}'; name two different instances`);
  }
  const report: MigrateReport = { migrated: 0, resumed: 0, conflicts: [], bytes: 0 };
  let after = 0;
  for (;;) {
    const page = await livePage(dataSource, source.name, after);
    if (page.length === 0) return report;
    for (const record of page) {
      if (options.stop?.()) return report;
      after = record.id;
      const copied = await copyRecord(dataSource, service, record, target.name, options.progress);
      if (copied === 'gone') continue;
      if (copied === 'conflict') {
        report.conflicts.push(record.name);
        continue;
      }
      if (copied === 'resumed') report.resumed++;
      else report.migrated++;
      report.bytes += record.size;
      // The switch: the source's record goes, and with its last reference its object.
      await service.deleteRecord(record.id);
      options.progress?.item(`${record.name} -> ${target.name}`);
    }
  }
}

async function copyRecord(
  dataSource: DataSource,
  service: StorageService,
  record: FileEntity,
  target: string,
  progress?: Progress,
): Promise<'copied' | 'resumed' | 'gone' | 'conflict'> {
  const now = Date.now();
  const onTarget = await dataSource
    .getRepository(FileEntity)
    .createQueryBuilder('f')
    .where('f.keyHash = :keyHash', { keyHash: keyHash(target, record.name) })
    .andWhere('(f.expires IS NULL OR f.expires > :now)', { now })
    .getMany();
  if (onTarget.some((t) => t.md5 === record.md5 && t.size === record.size && t.uid === record.uid)) {
    progress?.advance(record.size);
    return 'resumed';
  }
  // The target has its own, newer file under this key: never overwrite it with an older one.
  if (onTarget.some((t) => t.uploadTime > record.uploadTime)) return 'conflict';
  if (record.expires !== null && record.expires <= now) return 'gone';
  const keyRow = await dataSource
    .getRepository(StorageObjectEntity)
    .findOne({ where: { keyHash: keyHash(record.storeFullName, record.name) } });
  const instance = service.instance(record.storeFullName);
  let body: Readable;
  try {
    body = await instance.driver.get(record.objectKey);
  } catch (err) {
    if (isStorageError(err, StorageErrorCode.NOT_FOUND)) {
      throw new StorageError(
        StorageErrorCode.NOT_FOUND,
        `the object of '${record.name}' (record ${record.id}) is missing on ${record.storeFullName}; run 'verify' and 'reconcile', then migrate again`,
      );
    }
    throw err;
  }
  const copy = await service.uploadStream({
    file: record.name,
    body: counted(body, progress),
    storage: target,
    // A key named by its content stays so on the target (the upload checks the hash itself).
    md5: keyRow?.dedup ? record.md5 : undefined,
    contentType: record.type,
    expires: record.expires === null ? undefined : Math.max(1, Math.ceil((record.expires - now) / 1000)),
    user: record.uploadUser ?? undefined,
    uid: record.uid,
    fileName: record.fileName,
    size: record.size,
  });
  if (copy.md5 !== record.md5 || copy.size !== record.size) {
    await service.deleteRecord(copy.id);
    throw new StorageError(
      StorageErrorCode.MD5_MISMATCH,
      `the copy of '${record.name}' hashes to ${copy.md5} (${copy.size} bytes) but the record says ${record.md5} (${record.size} bytes); the source object is corrupt: run 'verify'`,
    );
  }
  return 'copied';
}

export interface VerifyProblem {
  storage: string;
  name: string;
  id: number;
  problem: 'missing' | 'mismatch';
  detail: string;
}

/** Re-hashes the object of every live record (of `storage`, or every instance) against the record. */
export async function verify(
  app: INestApplicationContext,
  storage: string | undefined,
  options: { progress?: Progress; onProblem?: (p: VerifyProblem) => void } = {},
): Promise<{ checked: number; problems: VerifyProblem[] }> {
  const registry = app.get(StorageRegistry);
  const dataSource = app.get(DataSource);
  const instances = storage === undefined ? registry.all() : [registry.get(storage)];
  const problems: VerifyProblem[] = [];
  let checked = 0;
  for (const instance of instances) {
    let after = 0;
    for (;;) {
      const page = await livePage(dataSource, instance.name, after);
      if (page.length === 0) break;
      for (const record of page) {
        after = record.id;
        checked++;
        const found = await hashObject(instance.driver, record.objectKey, options.progress);
        const base = { storage: instance.name, name: record.name, id: record.id };
        let problem: VerifyProblem | undefined;
        if (found === null) problem = { ...base, problem: 'missing', detail: `object '${record.objectKey}' not found` };
        else if (found.md5 !== record.md5 || found.size !== record.size) {
          problem = {
            ...base,
            problem: 'mismatch',
            detail: `record md5 ${record.md5} (${record.size} bytes), object md5 ${found.md5} (${found.size} bytes)`,
          };
        }
        if (problem) {
          problems.push(problem);
          options.onProblem?.(problem);
        }
        options.progress?.item(`${instance.name} ${record.name} ${problem ? problem.problem.toUpperCase() : 'ok'}`);
      }
    }
  }
  return { checked, problems };
}

async function hashObject(
  driver: { get(key: string): Promise<Readable> },
  key: string,
  progress?: Progress,
): Promise<{ md5: string; size: number } | null> {
  let stream: Readable;
  try {
    stream = await driver.get(key);
  } catch (err) {
    if (isStorageError(err, StorageErrorCode.NOT_FOUND)) return null;
    throw err;
  }
  const hash = createHash('md5');
  let size = 0;
  await pipeline(stream, async (chunks: AsyncIterable<Buffer>) => {
    for await (const chunk of chunks) {
      hash.update(chunk);
      size += chunk.length;
      progress?.advance(chunk.length);
    }
  });
  return { md5: hash.digest('hex'), size };
}
