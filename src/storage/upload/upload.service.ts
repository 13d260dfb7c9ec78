import { Injectable } from '@nestjs/common';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { StorageError } from '../errors/storage.error';
import {
  assertNotMd5Key,
  baseName,
  fileSuffix,
  isWellFormed,
  md5Hex,
  normalizeFileName,
  normalizeKey,
  normalizeMd5,
  uniqueUploadKey,
} from '../keys/keys';
import type { FileRecord } from '../database/file-record';
import { FileRecords } from '../records/file-records';
import { StorageRegistry } from '../registry/storage-registry';
import { UploadPipeline } from './upload-pipeline';
import { UploadSlots } from './upload-slots';
import { parseExpires, pickContentType, toReadable } from './upload-input';
import type { UploadByFileParams, UploadPlan, UploadStreamParams } from './upload.types';
import { InjectStorageOptions, type ResolvedStorageOptions } from '../options/resolved-options';
import { StorageMetrics } from '../metrics/storage-metrics';

/**
 * The rules of an upload, before the pipeline stores it: the instance, the key (the path, or
 * `{md5}{suffix}`), the size limit, the content type, expiry and the record's fields. Every
 * way in (the facade, the HTTP routes, signed uploads) comes through here.
 */
@Injectable()
export class UploadService {
  constructor(
    @InjectStorageOptions() private readonly options: ResolvedStorageOptions,
    private readonly registry: StorageRegistry,
    private readonly uploads: UploadPipeline,
    private readonly records: FileRecords,
    private readonly slots: UploadSlots,
    private readonly metrics: StorageMetrics,
  ) {}

  /**
   * The spec's `uploadByFile`: a file object (stored at `path`, else at a unique key), or a path
   * with `data`. Returns the file record.
   */
  async uploadByFile(params: UploadByFileParams): Promise<FileRecord> {
    const { file, data, path, ...rest } = params;
    if (typeof file === 'string') {
      if (data === undefined || data === null) {
        throw StorageError.invalidArgument('data is required when file is a path');
      }
      const size =
        typeof data === 'string' ? Buffer.byteLength(data) : data instanceof Readable ? undefined : data.length;
      return this.uploadStream({ ...rest, size: rest.size ?? size, file, body: toReadable(data) });
    }
    if (!file || typeof file.originalname !== 'string') {
      throw StorageError.invalidArgument('file must be a path or a file object with originalname');
    }
    const body = file.stream ?? (file.buffer ? Readable.from([file.buffer]) : undefined);
    const source = body ?? (file.path ? createReadStream(file.path) : undefined);
    if (!source) throw StorageError.invalidArgument('the file object has no buffer, path or stream');
    return this.uploadStream({
      ...rest,
      file: path ?? uniqueUploadKey(file.originalname),
      // The spec's uid comes from the file name, not from a key made up for it.
      uid: rest.uid ?? md5Hex(path ?? file.originalname),
      body: source,
      contentType: rest.contentType ?? file.mimetype,
      fileName: rest.fileName ?? file.originalname,
    });
  }

  /**
   * Streams `body` into storage; nothing of it is kept in memory. Returns the file record.
   * Counts against the caps of uploads in flight (`UploadSlots`): past one, 429 before any byte.
   */
  async uploadStream(params: UploadStreamParams): Promise<FileRecord> {
    const { body } = params;
    let release: (() => void) | undefined;
    try {
      release = this.slots.take(params.user ?? undefined);
      this.metrics.uploadsInFlight.inc();
      return await this.store(params);
    } catch (err) {
      body.destroy();
      throw err;
    } finally {
      if (release) this.metrics.uploadsInFlight.dec();
      release?.();
    }
  }

  /**
   * The rules of an upload applied to its parameters, before any byte: instance, key (the path,
   * or `{md5}{suffix}`), declared size against the limit, md5 and uid form, the caller's
   * `authorize`, content type, file name and expiry. Throws the refusal; returns the plan.
   */
  check(params: Omit<UploadStreamParams, 'body'>): UploadPlan {
    const instance = this.registry.get(params.storage);
    const path = normalizeKey(params.file);
    const md5 = params.md5 === undefined || params.md5 === '' ? undefined : normalizeMd5(params.md5);
    const expires = parseExpires(params.expires);
    const maxBytes = Math.min(this.options.maxUploadSize, params.maxSize ?? Infinity);
    if (params.size !== undefined && params.size > maxBytes) throw StorageError.tooLarge(maxBytes);
    if (!md5) assertNotMd5Key(path);
    if (params.uid !== undefined && (typeof params.uid !== 'string' || !isWellFormed(params.uid))) {
      throw StorageError.invalidArgument('uid must be well-formed text');
    }
    const key = md5 ? `${md5}${fileSuffix(path)}` : path;
    params.authorize?.(instance.name, key);
    const type = pickContentType(params.contentType, params.fileName ?? path);
    const fileName = normalizeFileName(params.fileName ?? baseName(path), baseName(path));
    return { instance, path, key, md5, expires, maxBytes, type, fileName };
  }

  private async store(params: UploadStreamParams): Promise<FileRecord> {
    const { instance, path, key, md5, expires, maxBytes, type, fileName } = this.check(params);
    const user = params.user ?? null;
    const entity = await this.uploads.run(instance, key, {
      body: params.body,
      md5,
      size: params.size,
      maxBytes,
      contentType: type,
      signal: params.signal,
      record: (content) => ({
        ...content,
        name: key,
        type,
        expiresSeconds: expires,
        fileName,
        uid: params.uid ?? md5Hex(path),
        fullName: instance.type,
        storeFullName: instance.name,
        uploadUser: user,
        updateUserId: user,
      }),
    });
    this.metrics.bytesStored.inc({ instance: instance.name }, entity.size);
    return this.records.toRecord(entity);
  }
}
