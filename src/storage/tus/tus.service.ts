import { Injectable } from '@nestjs/common';
import type { Server } from '@tus/server';
import type { Upload } from '@tus/utils';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FileRecord } from '../database/file-record';
import { StorageError, StorageErrorCode } from '../errors/storage.error';
import { uniqueUploadKey } from '../keys/keys';
import { InjectStorageOptions, type ResolvedStorageOptions } from '../options/resolved-options';
import { DatabaseLocker } from './database-locker';
import { createResumableStore } from './resumable-store';
import { tusServer, tusUtils } from './tus-modules';
import { ResumableUploads } from './resumable-uploads';
import { tusRequest, TUS_REQUEST, type TusRequest } from './tus-request';

/** The response header of the request that completes an upload: the file record, as URI-encoded JSON. */
export const RECORD_HEADER = 'Storage-Record';

/**
 * The tus 1.0.0 server of one module registration (`@tus/server` with `ResumableStore` and
 * `DatabaseLocker`): the protocol, with the service's rules at its hooks. Creation applies the
 * normal upload rules to the metadata before any byte; every later request is the owner's only;
 * the request that brings the last byte makes the file record and answers it (`Storage-Record`).
 * CORS is left to the module (no `Access-Control-Allow-Origin` of tus's own).
 */
@Injectable()
export class TusService {
  private tus?: Server;

  constructor(
    @InjectStorageOptions() private readonly options: ResolvedStorageOptions,
    private readonly uploads: ResumableUploads,
    private readonly locker: DatabaseLocker,
  ) {}

  /** `@tus/server`, made at the first tus request (its modules load then: see tus-modules). */
  private get server(): Server {
    this.tus ??= this.createServer();
    return this.tus;
  }

  private createServer(): Server {
    const { options, uploads, locker } = this;
    return new (tusServer().Server)({
      path: `/${options.routePrefix}/tus`,
      datastore: createResumableStore(uploads),
      locker,
      maxSize: options.maxUploadSize,
      namingFunction: () => randomBytes(16).toString('hex'),
      generateUrl: (_req, { id }) => `${tusRequest().endpoint}/${id}`,
      getFileIdFromRequest: (req) => new URL(req.url).pathname.split('/').pop() || undefined,
      allowedOrigins: () => false,
      exposedHeaders: [RECORD_HEADER],
      onUploadCreate: async (_req, upload) => this.checkCreation(upload),
      onIncomingRequest: async (_req, id) => this.checkOwner(id),
      onUploadFinish: async (_req, upload) => this.finish(upload),
      onResponseError: (_req, err) => errorAnswer(err, options.maxUploadSize),
    });
  }

  /** Serves one tus request (`Server.handle`) with what the HTTP layer knows of it. */
  handle(req: IncomingMessage, res: ServerResponse, scope: TusRequest): Promise<void> {
    return TUS_REQUEST.run(scope, () => this.server.handle(req, res));
  }

  /**
   * The record of the finished upload `id` (made now if the last byte arrived but the record is
   * not made yet); `E_CONFLICT` while bytes are missing. Only the upload's owner may read it.
   */
  async record(id: string, user: string | undefined, authorize: TusRequest['authorize']): Promise<FileRecord> {
    const row = await this.uploads.get(id);
    assertOwner(row.owner, user);
    return row.recordId !== null ? this.uploads.recordOf(row) : this.uploads.complete(id, authorize);
  }

  /**
   * `Storage-Record` for a `HEAD` of a finished upload by its owner: so that a client resuming an
   * upload that is already complete (tus-js-client then sends only the `HEAD`) still gets the record.
   */
  async finishedRecordHeader(id: string | undefined, user: string | undefined): Promise<string | undefined> {
    const row = id === undefined ? null : await this.uploads.find(id);
    if (!row || row.recordId === null || (row.owner ?? undefined) !== user) return undefined;
    const record = await this.uploads.recordOf(row).catch(() => undefined);
    return record && encodeURIComponent(JSON.stringify(record));
  }

  /** The normal upload rules on the metadata and the length, before any byte is accepted. */
  private checkCreation(upload: Upload): { metadata?: Upload['metadata'] } {
    const scope = tusRequest();
    const meta = upload.metadata ?? {};
    const text = (field: string) => meta[field] ?? undefined;
    const filename = text('filename');
    const expires = text('expires');
    scope.plan = this.uploads.plan({
      file: text('name') ?? uniqueUploadKey(filename ?? 'upload'),
      size: upload.size,
      md5: text('md5'),
      contentType: text('filetype'),
      storage: text('storage'),
      expires: expires === undefined ? undefined : Number(expires),
      fileName: filename,
      user: scope.user,
      authorize: scope.authorize,
    });
    return {};
  }

  private async checkOwner(id: string): Promise<void> {
    const scope = tusRequest();
    const row = await this.uploads.find(id);
    if (!row) return; // creation, or an unknown id: tus answers 404
    assertOwner(row.owner, scope.user);
    scope.authorize(row.storeFullName, row.name);
  }

  private async finish(upload: Upload) {
    const record = await this.uploads.complete(upload.id, tusRequest().authorize);
    return { headers: { [RECORD_HEADER]: encodeURIComponent(JSON.stringify(record)) } };
  }
}

function assertOwner(owner: string | null, user: string | undefined): void {
  if ((owner ?? undefined) !== user) throw StorageError.forbidden('this upload was created by another user');
}

/** The service's errors as its JSON answers (`{statusCode, code, message}`); tus's own stay as tus words them. */
function errorAnswer(err: unknown, limit: number): { status_code: number; body: string } | undefined {
  const error =
    err === tusUtils().ERRORS.ERR_MAX_SIZE_EXCEEDED
      ? StorageError.tooLarge(limit)
      : err === tusUtils().ERRORS.ERR_SIZE_EXCEEDED
        ? new StorageError(StorageErrorCode.TOO_LARGE, "the body goes past the upload's Upload-Length")
        : err;
  if (!(error instanceof StorageError)) return undefined;
  return {
    status_code: error.status,
    body: JSON.stringify({ statusCode: error.status, code: error.code, message: error.message }),
  };
}
