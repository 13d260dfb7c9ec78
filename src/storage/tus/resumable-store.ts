import type { DataStore, Upload } from '@tus/utils';
import type { Readable } from 'node:stream';
import { ResumableUploadEntity } from '../database/entities/resumable-upload.entity';
import { ChunkBody } from './chunk-body';
import { ResumableUploads, type ResumableMetadata } from './resumable-uploads';
import { tusUtils } from './tus-modules';
import { tusRequest } from './tus-request';

/** The tus extensions served (`Tus-Extension`); `creation-defer-length` and `concatenation` are not. */
export const TUS_EXTENSIONS = ['creation', 'creation-with-upload', 'termination', 'expiration', 'checksum'];

/** tus's answer to a body that does not match its `Upload-Checksum` (checksum extension). */
export const CHECKSUM_MISMATCH = { status_code: 460, body: 'Checksum Mismatch\n' };

/**
 * `@tus/server`'s store over `ResumableUploads`: the state in the database, each PATCH streamed
 * as its own chunk object into the instance's backend (never held in memory). What arrives before
 * a connection breaks is kept as a chunk, unless the client sent a checksum (then the whole body
 * must arrive and match, or nothing is appended).
 */
export function createResumableStore(uploads: ResumableUploads): DataStore {
  const { DataStore: Base, ERRORS } = tusUtils();
  // Defined here, not at the top level: `DataStore` is loaded on first use (see tus-modules).
  class ResumableStore extends Base {
    constructor(private readonly uploads: ResumableUploads) {
      super();
      this.extensions = TUS_EXTENSIONS;
    }

    override async create(upload: Upload): Promise<Upload> {
      const scope = tusRequest();
      if (!scope.plan) throw new Error('creating a tus upload without a plan: onUploadCreate did not run');
      const row = await this.uploads.create(
        upload.id,
        scope.plan,
        upload.size ?? 0,
        (upload.metadata ?? {}) as ResumableMetadata,
        scope.user ?? null,
      );
      return toUpload(row);
    }

    override async getUpload(id: string): Promise<Upload> {
      const row = await this.uploads.find(id);
      if (!row) throw ERRORS.FILE_NOT_FOUND;
      return toUpload(row);
    }

    override async write(source: Readable, id: string, offset: number): Promise<number> {
      const row = await this.uploads.get(id);
      if (row.uploadOffset !== offset || row.recordId !== null) throw ERRORS.INVALID_OFFSET;
      const { checksum, declaredLength } = tusRequest();
      const driver = this.uploads.driverOf(row);
      const key = this.uploads.chunkKey(id, offset);
      const body = ChunkBody.of(source, checksum?.algorithm);
      await driver.put(key, body, { contentType: 'application/octet-stream' });
      const whole = !body.cut && (declaredLength === undefined || body.bytes === declaredLength);
      const refused = checksum !== undefined && (!whole || body.digest() !== checksum.digest);
      if (refused || body.bytes === 0) {
        await driver.delete(key);
        if (refused && whole) throw CHECKSUM_MISMATCH;
        return offset;
      }
      if (!(await this.uploads.append(id, offset, body.bytes, key))) {
        await driver.delete(key);
        throw ERRORS.INVALID_OFFSET;
      }
      return offset + body.bytes;
    }

    override async remove(id: string): Promise<void> {
      const row = await this.uploads.find(id);
      if (!row) throw ERRORS.FILE_NOT_FOUND;
      await this.uploads.discard(row);
    }

    override deleteExpired(): Promise<number> {
      return this.uploads.removeExpired();
    }

    override getExpiration(): number {
      return this.uploads.expiryMs;
    }
  }
  return new ResumableStore(uploads);
}

function toUpload(row: ResumableUploadEntity): Upload {
  return new (tusUtils().Upload)({
    id: row.id,
    size: row.size,
    offset: row.uploadOffset,
    metadata: JSON.parse(row.metadata) as ResumableMetadata,
    creation_date: new Date(row.createdAt).toISOString(),
    storage: { type: 'storage-svc', path: row.name },
  });
}
