import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { FileEntity } from '../../src/storage/database/entities/file.entity';
import type { Clock } from '../../src/storage/ledger/clock';
import { keyHash, ObjectLedger } from '../../src/storage/ledger/object-ledger';
import { StorageObjectEntity } from '../../src/storage/database/entities/storage-object.entity';
import { UploadPinEntity } from '../../src/storage/database/entities/upload-pin.entity';
import type { TestApp } from './test-app';

/** A clock the test moves: expiry without sleeping. Starts at the real time. */
export class FakeClock implements Clock {
  constructor(public time = Date.now()) {}

  now(): number {
    return this.time;
  }

  advance(seconds: number): void {
    this.time += seconds * 1000;
  }
}

export { enc, md5 } from './util';

/** What the database holds for one key of the default instance. */
export async function keyState(t: TestApp, key: string, storage = 'storages.Default') {
  const db = t.app.get(DataSource);
  const hash = keyHash(storage, key);
  return {
    records: await db.getRepository(FileEntity).find({ where: { keyHash: hash }, order: { id: 'ASC' } }),
    row: await db.getRepository(StorageObjectEntity).findOne({ where: { keyHash: hash } }),
    pins: await db.getRepository(UploadPinEntity).count({ where: { keyHash: hash } }),
  };
}

/**
 * The files that hold versions of the local-disk path `key` under `root` (default: the app's
 * `storages.Default`): `key` itself (md5 content, or data from before versions) and every
 * `{stem}.~v{id}{ext}` beside it.
 */
export function storedVersions(t: TestApp, key: string, root = path.join(t.dataDir, 'files')): string[] {
  const file = path.join(root, key);
  const dir = path.dirname(file);
  const base = path.basename(file);
  const dot = base.lastIndexOf('.');
  const ext = dot > 0 ? base.slice(dot) : '';
  const stem = base.slice(0, base.length - ext.length);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((name) => name === base || (name.startsWith(`${stem}.~v`) && name.endsWith(ext)))
    .map((name) => path.join(dir, name));
}

/** Whether any version of `key` is on disk. */
export function stored(t: TestApp, key: string, root?: string): boolean {
  return storedVersions(t, key, root).length > 0;
}

/** Unexpired records plus uploads in flight: what keeps the key's object. */
export function references(t: TestApp, key: string, storage = 'storages.Default'): Promise<number> {
  const objects = t.app.get(ObjectLedger);
  return objects.references(objects.ref(storage, key));
}

/**
 * A local-disk storage instance of the test's own, made the default: sweeps and reconciliations
 * scoped to it never touch what other test files (sharing the MySQL database) keep in
 * `storages.Default`. Pass `config` to `createTestApp`; several apps given the same one share it.
 */
export function isolatedStorage(): { name: string; root: string; config: Record<string, unknown>; remove(): void } {
  const name = `storages.Iso${randomBytes(4).toString('hex')}`;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'storage-iso-'));
  return {
    name,
    root,
    config: {
      settings: { defaultElement: { defaultStorage: name } },
      storages: { [name]: { type: 'storages.LocalType', root } },
    },
    remove: () => fs.rmSync(root, { recursive: true, force: true }),
  };
}
