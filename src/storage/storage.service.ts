import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Readable } from 'node:stream';
import type { Repository } from 'typeorm';
import type { ByteRange, SignedUpload, SignedUrl } from './drivers/storage-driver';
import { isStorageError, quoteInput, StorageError, StorageErrorCode } from './errors/storage.error';
import type { FileRecord } from './database/file-record';
import { FileEntity } from './database/entities/file.entity';
import { DOWNLOAD_RESPONSE, storedFileResponse, type FileResponse } from './serving/file-response';
import { normalizeKey } from './keys/keys';
import { Clock } from './ledger/clock';
import { isExpired, ObjectLedger } from './ledger/object-ledger';
import { ObjectPurger } from './purge/object-purger';
import { SKIPPED } from './ledger/key-locks';
import { PreviewService } from './serving/preview.service';
import { UploadGrants, type SignOptions } from './signing/upload-grants';
import { SignedDownloads } from './signing/signed-downloads';
import { SignedUploadService } from './signing/signed-upload.service';
import type { ThumbnailRequestOptions } from './thumbnails/thumbnail-params';
import { ThumbnailService } from './thumbnails/thumbnail.service';
import { StorageRegistry, type StorageInstance } from './registry/storage-registry';
import { FileRecords } from './records/file-records';
import { openObject } from './drivers/shared/open-object';
import type { ListParams } from './records/file-records';
import type { OpenedFile } from './serving/opened-file';
import type { UploadByFileParams, UploadStreamParams } from './upload/upload.types';
import { UploadService } from './upload/upload.service';
import { UploadSlots } from './upload/upload-slots';
import { InjectStorageOptions, type ResolvedStorageOptions } from './options/resolved-options';

/**
 * The storage rules: default instance, key normalisation, md5 naming and checking, records,
 * expiry on access. Other modules inject this; controllers only translate HTTP to these calls.
 */
@Injectable()
export class StorageService implements OnApplicationShutdown {
  constructor(
    @InjectStorageOptions() private readonly options: ResolvedStorageOptions,
    private readonly registry: StorageRegistry,
    @InjectRepository(FileEntity) private readonly files: Repository<FileEntity>,
    private readonly previews: PreviewService,
    private readonly thumbnails: ThumbnailService,
    private readonly objects: ObjectLedger,
    private readonly uploads: UploadService,
    private readonly grants: UploadGrants,
    @Inject(Clock) private readonly clock: Clock,
    private readonly records: FileRecords,
    private readonly purger: ObjectPurger,
    private readonly downloads: SignedDownloads,
    private readonly signedUploads: SignedUploadService,
    private readonly slots: UploadSlots,
  ) {}

  /** The spec's `uploadByFile`: a file object, or a path with `data`. Returns the file record. */
  uploadByFile(params: UploadByFileParams): Promise<FileRecord> {
    return this.uploads.uploadByFile(params);
  }

  /** Streams `body` into storage; nothing of it is kept in memory. Returns the file record. */
  uploadStream(params: UploadStreamParams): Promise<FileRecord> {
    return this.uploads.uploadStream(params);
  }

  /**
   * Resolves true once no upload runs in this process (whichever way it came in, the clean-up of
   * a failed one included), false after `ms`: what a host's shutdown waits for after cutting
   * the connections of uploads still in flight.
   */
  uploadsSettled(ms: number): Promise<boolean> {
    return this.slots.settled(ms);
  }

  /** The live record of `file`, or `E_NOT_FOUND`; an expired one is removed on the way. */
  async getMeta(file: string, storage?: string): Promise<FileRecord> {
    const { entity } = await this.findLive(file, storage);
    return this.toRecord(entity);
  }

  /** Record, instance and object stat of a live file: what a response needs before the body. */
  async open(file: string, storage?: string): Promise<OpenedFile> {
    const { entity, instance } = await this.findLive(file, storage);
    const object = await openObject(instance.driver, entity.objectKey);
    return { entity, instance, stat: object.stat, object, record: this.toRecord(entity) };
  }

  /** A readable of a live file, whole or a byte range of it. */
  async downloadStream(
    file: string,
    options: { storage?: string; range?: ByteRange; signal?: AbortSignal } = {},
  ): Promise<OpenedFile & { stream: Readable }> {
    const opened = await this.open(file, options.storage);
    const stream = await opened.object.stream(options.range, options.signal);
    return { ...opened, stream };
  }

  /**
   * The spec's `download`: the file's bytes. Bounded by `maxBufferSize` because the result is
   * one Buffer; larger files need `downloadStream`.
   */
  async download(file: string, storage?: string): Promise<Buffer> {
    const limit = this.options.maxBufferSize;
    const opened = await this.open(file, storage);
    if (opened.stat.size > limit) {
      opened.object.close();
      throw new StorageError(
        StorageErrorCode.TOO_LARGE,
        `${quoteInput(opened.entity.name)} is ${opened.stat.size} bytes, more than download() returns in memory (${limit}); use downloadStream()`,
      );
    }
    const stream = await opened.object.stream();
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  /**
   * The file as a download (`attachment`, its original name, `private, no-cache`): send it with
   * `sendStorageResponse`, which speaks ranges and conditional requests.
   */
  async downloadResponse(file: string, storage?: string): Promise<FileResponse> {
    return storedFileResponse(await this.open(file, storage), DOWNLOAD_RESPONSE);
  }

  /**
   * The spec's `preview` (public): the file inline where that is safe (an allow-listed type whose
   * bytes are not markup), else as an attachment. Send it with `sendStorageResponse`.
   */
  async preview(file: string, storage?: string): Promise<FileResponse> {
    return this.previews.preview(await this.open(file, storage));
  }

  /**
   * The spec's `previewThumbnail` (public): a `width` x `height` (default 120 x 120) image,
   * rendered once and then read back from storage. `options`: `fit`, `format`, `accept`; the size
   * snaps to a configured preset unless `anySize` (for callers that may ask any size), and
   * `client` names the caller so that renders are queued fairly.
   */
  async previewThumbnail(
    name: string,
    width?: number,
    height?: number,
    storage?: string,
    options?: ThumbnailRequestOptions,
  ): Promise<FileResponse> {
    return this.thumbnails.thumbnail(await this.findLive(name, storage), width, height, options);
  }

  /**
   * The spec's `getSignUrl`: a URL for one direct client upload of `file`, bound to the key, the
   * content type, a size limit and an expiry, and usable once. Local disk: a signed URL to this
   * service's `PUT {prefix}/upload/{path}`, which creates the record. Cloud instances: the
   * backend's presigned URL, then `POST {prefix}/sign/complete` creates the record.
   */
  async getSignUrl(
    file: string,
    contentType: string,
    storage?: string,
    options?: SignOptions & { method?: 'PUT' },
  ): Promise<SignedUpload>;
  /**
   * With `method: 'GET'`: a URL to download the live file `file` until `expiresIn` seconds from
   * now (never past the file's own expiry), reusable until then. Cloud instances: the backend's
   * presigned GET of the current object version (valid for that version only). Local disk: a
   * signed URL to this module's download route, also accepted by preview and thumbnails.
   * `contentType` is not used.
   */
  async getSignUrl(
    file: string,
    contentType: string | undefined,
    storage: string | undefined,
    options: Pick<SignOptions, 'expiresIn'> & { method: 'GET' },
  ): Promise<SignedUrl>;
  async getSignUrl(
    file: string,
    contentType: string | undefined,
    storage?: string,
    options: SignOptions & { method?: 'PUT' | 'GET' } = {},
  ): Promise<SignedUrl> {
    const instance = this.registry.get(storage);
    if (options.method === 'GET') return this.downloads.issue(instance, file, options);
    if (options.method !== undefined && options.method !== 'PUT') {
      throw StorageError.invalidArgument("method must be 'PUT' (an upload) or 'GET' (a download)");
    }
    return this.grants.issue(instance, file, contentType as string, options);
  }

  /**
   * The spec's `delete`. Removes the records of `file`, or only record `id` (one reference to
   * content shared through md5); the object goes when no unexpired record refers to it any more.
   * `E_NOT_FOUND` when no live record was removed (expired ones are cleaned up on the way).
   *
   * Atomic on every database: the records go in the same transaction that queues their object
   * for removal. The object is removed right after; if the backend refuses, the queue keeps it
   * and retries until it is gone, so a delete is never half-done and never needs repeating.
   *
   * `onlyBy`: remove nothing (403 `E_FORBIDDEN`) unless every live record that would go was
   * uploaded by this user: what a token without `delete-any` may do.
   */
  async delete(
    file: string,
    storage?: string,
    options: { id?: number; onlyBy?: string } = {},
  ): Promise<{ deleted: number }> {
    const instance = this.registry.get(storage);
    const key = normalizeKey(file);
    const selector = options.id === undefined ? { all: true as const } : { ids: [options.id] };
    const { onlyBy } = options;
    const allow =
      onlyBy === undefined
        ? undefined
        : (live: FileEntity[]) => {
            if (live.some((r) => r.uploadUser !== onlyBy)) {
              throw StorageError.forbidden(
                `'${key}' has references uploaded by another user; only delete-any removes them`,
              );
            }
          };
    const result = await this.objects.removeRecords(this.objects.ref(instance.name, key), selector, { allow });
    if (result !== SKIPPED) await this.purger.purge(result.retired);
    const now = this.clock.now();
    const deleted = result === SKIPPED ? 0 : result.records.filter((r) => !isExpired(r, now)).length;
    if (deleted === 0) throw StorageError.notFound(key, instance.name);
    return { deleted };
  }

  /** Removes one record by id; its object goes too once nothing refers to it. */
  async deleteRecord(id: number): Promise<void> {
    const entity = await this.files.findOne({ where: { id } });
    if (!entity) return;
    const result = await this.objects.removeRecords(this.objects.ref(entity.storeFullName, entity.name), {
      ids: [id],
    });
    if (result !== SKIPPED) await this.purger.purge(result.retired);
  }

  /** Records of one instance, oldest first, `limit` at a time; `cursor` continues a listing. */
  list(params: ListParams = {}): Promise<{ items: FileRecord[]; nextCursor: string | null }> {
    return this.records.list(params);
  }

  /** The record's public form, with `url` derived from the key and the instance. */
  toRecord(entity: FileEntity): FileRecord {
    return this.records.toRecord(entity);
  }

  /**
   * The live record of `file`. When there is none, a direct upload to that path that has arrived
   * but was not completed is recorded first (`SignedUploadService.completeOnAccess`), so a client
   * that forgot `sign/complete` still finds its file.
   */
  private async findLive(file: string, storage?: string): Promise<{ entity: FileEntity; instance: StorageInstance }> {
    try {
      return await this.records.findLive(file, storage);
    } catch (err) {
      if (!isStorageError(err, StorageErrorCode.NOT_FOUND)) throw err;
      if (!(await this.signedUploads.completeOnAccess(file, storage))) throw err;
      return this.records.findLive(file, storage);
    }
  }

  /** The instance names, and which one is the default. */
  storages(): { default: string; names: string[] } {
    return { default: this.registry.defaultName, names: this.registry.names() };
  }

  instance(storage?: string): StorageInstance {
    return this.registry.get(storage);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.registry.close();
  }
}
