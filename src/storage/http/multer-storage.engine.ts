import type { Request } from 'express';
import type { StorageEngine } from 'multer';
import type { Readable } from 'node:stream';
import { StorageError, StorageErrorCode } from '../errors/storage.error';
import type { FileRecord } from '../database/file-record';
import type { StorageService } from '../storage.service';
import { md5Hex, uniqueUploadKey } from '../keys/keys';
import { uploadFields } from './upload-fields';

/**
 * Errors the engine itself reported (the service refusing or failing the upload), as opposed to
 * the multipart parser's: `readMultipartUpload` answers the latter as a malformed body.
 */
export const ENGINE_ERRORS = new WeakSet<object>();

/** What the engine leaves on `req.file` once the part is stored. */
export interface StoredPart {
  record: FileRecord;
  /** Fields that had arrived when the file part started (later ones were not applied). */
  fieldsSeen: string[];
}

/**
 * A multer storage engine that streams the file part straight into `StorageService` while md5
 * and size are computed: nothing is buffered in memory or spooled to a temp folder. Text fields
 * (`name`, `md5`, `contentType`, `storage`, `expires`, `uid`) must come before the file part.
 */
export class ServiceStorageEngine implements StorageEngine {
  private inFlight: Promise<unknown> = Promise.resolve();

  /** `idle`: aborts when the client stalls (the part being stored is stopped and released). */
  constructor(
    private readonly service: StorageService,
    private readonly user: string | undefined,
    private readonly authorize?: (storage: string, key: string) => void,
    private readonly idle?: AbortSignal,
  ) {}

  /** Settles once the part being stored (if any) is stored or released. */
  settled(): Promise<void> {
    return this.inFlight.then(
      () => undefined,
      () => undefined,
    );
  }

  _handleFile(
    req: Request,
    file: Express.Multer.File & { stream: Readable },
    callback: (error?: unknown, info?: Partial<Express.Multer.File>) => void,
  ): void {
    const fields = uploadFields({ ...req.query, ...req.body });
    const fieldsSeen = Object.keys(req.body ?? {});
    const abort = new AbortController();
    const onClose = () => {
      if (!req.complete) {
        const err = new StorageError(StorageErrorCode.ABORTED, 'the client went away during the upload');
        file.stream.destroy(err);
        abort.abort(err);
      }
    };
    req.once('close', onClose);
    const onIdle = () => {
      file.stream.destroy(this.idle?.reason as Error);
      abort.abort(this.idle?.reason);
    };
    this.idle?.addEventListener('abort', onIdle, { once: true });
    this.inFlight = this.service
      .uploadStream({
        ...fields,
        file: fields.name ?? uniqueUploadKey(file.originalname),
        uid: fields.uid ?? md5Hex(fields.name ?? file.originalname),
        body: file.stream,
        contentType: fields.contentType ?? file.mimetype,
        fileName: file.originalname,
        user: this.user,
        authorize: this.authorize,
        signal: abort.signal,
      })
      .then(
        (record) => callback(null, { record, fieldsSeen } as unknown as Partial<Express.Multer.File>),
        (err: unknown) => {
          if (typeof err === 'object' && err !== null) ENGINE_ERRORS.add(err);
          callback(err);
        },
      )
      .finally(() => {
        req.off('close', onClose);
        this.idle?.removeEventListener('abort', onIdle);
      });
  }

  _removeFile(_req: Request, file: Express.Multer.File, callback: (error: Error | null) => void): void {
    const { record } = file as unknown as StoredPart;
    if (!record) return callback(null);
    this.service
      .deleteRecord(record.id)
      .then(() => callback(null))
      .catch((err: Error) => callback(err));
  }
}
