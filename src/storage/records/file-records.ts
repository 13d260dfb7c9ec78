import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository, SelectQueryBuilder } from 'typeorm';
import { ConfigError } from '../config/storage-config';
import { StorageError, StorageErrorCode } from '../errors/storage.error';
import { toFileRecord, type FileRecord } from '../database/file-record';
import { FileEntity } from '../database/entities/file.entity';
import { normalizeKey, normalizePrefix } from '../keys/keys';
import { Clock } from '../ledger/clock';
import { ObjectLedger } from '../ledger/object-ledger';
import { SKIPPED } from '../ledger/key-locks';
import { ObjectPurger } from '../purge/object-purger';
import { LiveRecordLookup } from './live-record-lookup';
import { StorageRegistry, type StorageInstance } from '../registry/storage-registry';
import { InjectStorageOptions, type ResolvedStorageOptions } from '../options/resolved-options';

export interface ListParams {
  storage?: string;
  prefix?: string;
  limit?: number;
  cursor?: string;
}

/** Reading file records: the live record of a key (expiry on access), listings, public form. */
@Injectable()
export class FileRecords {
  constructor(
    @InjectStorageOptions() private readonly options: ResolvedStorageOptions,
    private readonly registry: StorageRegistry,
    @InjectRepository(FileEntity) private readonly files: Repository<FileEntity>,
    private readonly objects: ObjectLedger,
    private readonly purger: ObjectPurger,
    @Inject(Clock) private readonly clock: Clock,
    private readonly live: LiveRecordLookup,
  ) {
    assertEveryInstanceHasUrls(options, registry);
  }

  /**
   * The newest unexpired record of `file`. When it has none but expired ones, they are removed
   * (with the object, if nothing else refers to it) and the answer is 404 at once: the spec's
   * expiry on access, the same for download, meta, preview and thumbnail.
   */
  async findLive(file: string, storage?: string): Promise<{ entity: FileEntity; instance: StorageInstance }> {
    const instance = this.registry.get(storage);
    const key = normalizeKey(file);
    const ref = this.objects.ref(instance.name, key);
    const entity = await this.live.find(ref.keyHash, this.clock.now());
    if (entity && entity.name === key) return { entity, instance };
    if (await this.files.exists({ where: { keyHash: ref.keyHash } })) {
      const removed = await this.objects.removeRecords(ref, { expired: true });
      if (removed !== SKIPPED) await this.purger.purge(removed.retired);
    }
    throw StorageError.notFound(key, instance.name);
  }

  /** Records of one instance, newest last, `limit` at a time; `cursor` continues a listing. */
  async list(params: ListParams = {}): Promise<{ items: FileRecord[]; nextCursor: string | null }> {
    const instance = this.registry.get(params.storage);
    const prefix = normalizePrefix(params.prefix);
    const limit = Math.min(Math.max(Math.trunc(Number(params.limit ?? 100)) || 100, 1), 1000);
    const after = params.cursor ? parseCursor(params.cursor) : 0;
    const store = instance.name;
    // Without a prefix, a page reads at most LIST_SCAN_FACTOR times what it returns: past a long
    // run of expired records not swept yet, it stops at the window's end, shorter (even empty),
    // with a cursor to go on from, rather than reading the whole run (on the event loop, on SQLite).
    const through = prefix
      ? null
      : await listWindowEnd(this.files, { store, after, span: LIST_SCAN_FACTOR * (limit + 1) });
    const query = listPageQuery(this.files, { store, after, now: this.clock.now(), limit, prefix, through });
    const rows = await query.getMany();
    const page = rows.slice(0, limit);
    const nextCursor =
      rows.length > limit ? String(page[page.length - 1].id) : through !== null ? String(through) : null;
    return { items: page.map((row) => this.toRecord(row)), nextCursor };
  }

  /** The record's public form, with `url` derived from the key and the instance. */
  toRecord(entity: FileEntity): FileRecord {
    return toFileRecord(entity, this.urlOf(entity));
  }

  /**
   * A URL that keeps pointing at this record's file whatever the default instance later becomes:
   * the host's `urlBuilder`; else the backend's own URL of the object version (a CDN in front
   * of a public bucket); else this module's public preview route, naming the instance.
   */
  urlOf(entity: Pick<FileEntity, 'storeFullName' | 'name' | 'objectKey'>): string {
    const { storeFullName: storage, name: key, objectKey } = entity;
    const publicUrl = this.registry.get(storage).driver.publicUrl(objectKey);
    if (this.options.urlBuilder) return this.options.urlBuilder({ storage, key, objectKey, publicUrl });
    if (publicUrl) return publicUrl;
    return routeUrl(this.options, 'preview', key, storage);
  }
}

/** Index entries a page without a prefix reads at most, as a multiple of what it asks for (`limit + 1`). */
export const LIST_SCAN_FACTOR = 10;

/**
 * The id `span` records after `after` in the instance (the end of the window a page reads), or
 * null when fewer are left.
 */
export async function listWindowEnd(
  files: Repository<FileEntity>,
  window: { store: string; after: number; span: number },
): Promise<number | null> {
  const row = await listWindowQuery(files, window).getRawOne<{ id: number | string }>();
  return row ? Number(row.id) : null;
}

/** `listWindowEnd`'s query: `IDX_storage_files_store_id` alone, a short range scan in its order (`test/query-plans`). */
export function listWindowQuery(
  files: Repository<FileEntity>,
  window: { store: string; after: number; span: number },
): SelectQueryBuilder<FileEntity> {
  return files
    .createQueryBuilder('f')
    .useIndex('IDX_storage_files_store_id')
    .select('f.id', 'id')
    .where('f.storeFullName = :store', { store: window.store })
    .andWhere('f.id > :after', { after: window.after })
    .orderBy('f.id', 'ASC')
    .offset(window.span - 1)
    .limit(1);
}

/**
 * One listing page: the instance's unexpired records after `after`, by id, one more than
 * `limit` (to know whether a next page exists). It reads `IDX_storage_files_store_id` in its
 * own order (a seek to `(store, after)`, then a short range scan): no sort, so the last page of
 * a million records costs what the first does (`test/query-plans` checks the plan).
 */
export function listPageQuery(
  files: Repository<FileEntity>,
  page: { store: string; after: number; now: number; limit: number; prefix: string; through?: number | null },
): SelectQueryBuilder<FileEntity> {
  // MySQL-only hint (TypeORM leaves it out elsewhere): MariaDB otherwise walks the primary key
  // from the cursor, in order too but through every other instance's records.
  const query = files
    .createQueryBuilder('f')
    .useIndex('IDX_storage_files_store_id')
    .where('f.storeFullName = :store', { store: page.store })
    .andWhere('f.id > :after', { after: page.after })
    .andWhere('(f.expires IS NULL OR f.expires > :now)', { now: page.now })
    .orderBy('f.id', 'ASC')
    .take(page.limit + 1);
  if (page.through !== undefined && page.through !== null)
    query.andWhere('f.id <= :through', { through: page.through });
  if (page.prefix) {
    // Keys are case-sensitive, SQLite's LIKE is not (for ASCII): LIKE narrows (through the
    // index where the database can), the exact comparison of the leading characters decides.
    query
      .andWhere('f.name LIKE :prefix ESCAPE :esc', { prefix: `${escapeLike(page.prefix)}%`, esc: '!' })
      .andWhere('SUBSTR(f.name, 1, :prefixLength) = :exactPrefix', {
        prefixLength: [...page.prefix].length,
        exactPrefix: page.prefix,
      });
  }
  return query;
}

/**
 * `{publicBaseUrl}/{prefix}/{route}/{key}?storage={instance}`: the instance is always named, so
 * that the URL does not change meaning with the default. Only while the routes exist.
 */
export function routeUrl(options: ResolvedStorageOptions, route: string, key: string, storage: string): string {
  if (!options.http || !options.publicBaseUrl) {
    throw new StorageError(
      StorageErrorCode.INVALID_CONFIG,
      `no URL can point at the module's ${route} route: it serves no HTTP API (http: false)`,
    );
  }
  const path = key.split('/').map(encodeURIComponent).join('/');
  return `${options.publicBaseUrl}/${options.routePrefix}/${route}/${path}?storage=${encodeURIComponent(storage)}`;
}

/**
 * Without the HTTP API, every instance needs a URL of its own (`publicUrl`) unless the host
 * builds URLs (`urlBuilder`): a start-up error names the first instance that has none.
 */
function assertEveryInstanceHasUrls(options: ResolvedStorageOptions, registry: StorageRegistry): void {
  if (options.http || options.urlBuilder) return;
  for (const instance of registry.all()) {
    if (instance.driver.publicUrl('probe') === null) {
      throw new ConfigError(
        `storages['${instance.name}'].publicUrl`,
        'record URLs need one while the module serves no HTTP API (http: false): set publicUrl ' +
          "(where the backend serves objects), give urlBuilder, or serve the module's routes",
      );
    }
  }
}

function parseCursor(cursor: string): number {
  const id = Number(cursor);
  if (!Number.isSafeInteger(id) || id < 0) throw StorageError.invalidArgument('cursor is not valid');
  return id;
}

function escapeLike(value: string): string {
  return value.replace(/[!%_]/g, (c) => `!${c}`);
}
