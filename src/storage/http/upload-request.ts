import { Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import multer, { MulterError } from 'multer';
import { PassThrough, type Readable } from 'node:stream';
import { quoteInput, StorageError, StorageErrorCode } from '../errors/storage.error';
import type { FileRecord } from '../database/file-record';
import type { StorageService } from '../storage.service';
import { ENGINE_ERRORS, ServiceStorageEngine, type StoredPart } from './multer-storage.engine';
import { UPLOAD_FIELD_NAMES, uploadFields } from './upload-fields';
import { rejectOnAbort, uploadIdleSignal } from './upload-idle';
import { noteStorageInstance } from './metrics.middleware';

const MULTIPART_LIMITS: multer.Options['limits'] = {
  files: 1,
  fields: 20,
  fieldSize: 64 * 1024,
  parts: 25,
  headerPairs: 100,
};

/** Runs multer with the streaming engine and returns the stored file's record. */
export async function readMultipartUpload(
  service: StorageService,
  req: Request,
  res: Response,
  user: string | undefined,
  authorize?: (storage: string, key: string) => void,
): Promise<FileRecord> {
  if (!req.is('multipart/form-data')) {
    throw StorageError.invalidArgument('send multipart/form-data with a "file" part, or PUT the raw bytes');
  }
  const idle = uploadIdleSignal(req);
  const engine = new ServiceStorageEngine(service, user, notingInstance(res, authorize), idle);
  const handler = multer({ storage: engine, limits: MULTIPART_LIMITS, defParamCharset: 'utf8' }).single('file');
  const parsed = new Promise<void>((resolve, reject) =>
    handler(req, res, (err?: unknown) => (err ? reject(multipartError(err)) : resolve())),
  );
  try {
    await Promise.race([parsed, rejectOnAbort(idle)]);
  } catch (err) {
    if (!idle?.aborted) throw err;
    // Stalled: multer would wait for the rest of the body. Stop feeding it, let the part being
    // stored release what it holds, then answer; the connection closes after the answer.
    parsed.catch(() => undefined);
    req.unpipe();
    await engine.settled();
    throw idle.reason;
  }
  const part = req.file as unknown as StoredPart | undefined;
  if (!part?.record) throw malformed('the multipart body has no "file" part');
  const late = UPLOAD_FIELD_NAMES.filter((f) => req.body?.[f] !== undefined && !part.fieldsSeen.includes(f));
  if (late.length > 0) {
    await service.deleteRecord(part.record.id);
    throw StorageError.invalidArgument(`send the fields ${late.join(', ')} before the "file" part`);
  }
  return part.record;
}

const logger = new Logger('MultipartUpload');
/** Multer's limits that mean "too large" (413 through the filter), not "malformed". */
const SIZE_LIMITS = new Set(['LIMIT_FILE_SIZE', 'LIMIT_FIELD_VALUE']);

/**
 * What multer reported, for the client: the service's own errors (from the storage engine) and
 * size limits as they are; anything else comes from parsing the body (busboy: a bad part header,
 * no closing boundary, a truncated body, no boundary; multer: a part with no name, too many
 * parts), so the body is malformed: a 400 `E_INVALID_ARGUMENT`, logged as one line, no stack.
 */
function multipartError(err: unknown): unknown {
  if (err instanceof StorageError || (typeof err === 'object' && err !== null && ENGINE_ERRORS.has(err))) return err;
  if (err instanceof MulterError && SIZE_LIMITS.has(err.code)) return err;
  const field = err instanceof MulterError && err.field ? ` (field ${quoteInput(err.field)})` : '';
  return malformed(
    `malformed multipart body: ${err instanceof Error ? err.message : String(err)}${field}; send multipart/form-data with a boundary, named parts and a "file" part`,
  );
}

/** A refused multipart body: logged as one warning line (no stack), answered as a 400. */
function malformed(message: string): StorageError {
  logger.warn(message.replace(/\s+/g, ' '));
  return StorageError.invalidArgument(message);
}

/** Streams a raw request body (PUT) into storage; `Content-Length`, when sent, is checked. */
export function readRawUpload(
  service: StorageService,
  req: Request,
  res: Response,
  path: string,
  user: string | undefined,
  authorize?: (storage: string, key: string) => void,
): Promise<FileRecord> {
  return streamRawBody(req, res, (body, signal, size) => {
    const fields = uploadFields(req.query as Record<string, unknown>);
    return service.uploadStream({
      ...fields,
      file: path,
      body,
      contentType: fields.contentType ?? req.headers['content-type'],
      size,
      user,
      authorize: notingInstance(res, authorize),
      signal,
    });
  });
}

/** `authorize`, also naming the upload's instance for the byte counters once the service resolved it. */
function notingInstance(res: Response, authorize?: (storage: string, key: string) => void) {
  return (storage: string, key: string): void => {
    noteStorageInstance(res, storage);
    authorize?.(storage, key);
  };
}

/** Stores a raw request body, given the abort signal and the declared `Content-Length`. */
export type RawBodyHandler = (body: Readable, signal: AbortSignal, declared: number | undefined) => Promise<FileRecord>;

/**
 * The raw-body part of every PUT upload route: hands `handler` the body as a stream with an
 * abort signal for a client that goes away, and after a refusal drains a little of the rest so
 * the client can read the answer.
 */
export async function streamRawBody(req: Request, res: Response, handler: RawBodyHandler): Promise<FileRecord> {
  if (req.readableEnded || (req as { _body?: boolean })._body) {
    throw new StorageError(
      StorageErrorCode.INTERNAL,
      'the request body was consumed before the upload route; exclude it from body parsers',
    );
  }
  const declared = req.headers['content-length'];
  const abort = new AbortController();
  const onClose = () => {
    if (!req.complete) abort.abort(new StorageError(StorageErrorCode.ABORTED, 'the client went away'));
  };
  req.once('close', onClose);
  // The service destroys its body on failure; a PassThrough keeps that from killing the socket
  // before the error response is written.
  const body = req.pipe(new PassThrough({ highWaterMark: 1024 * 1024 }));
  const idle = uploadIdleSignal(req);
  const onIdle = () => {
    body.destroy(idle?.reason as Error);
    abort.abort(idle?.reason);
  };
  idle?.addEventListener('abort', onIdle, { once: true });
  try {
    const record = await handler(body, abort.signal, declared === undefined ? undefined : Number(declared));
    noteStorageInstance(res, record.storeFullName);
    return record;
  } catch (err) {
    discardRest(req, res);
    // Whatever the storage layers made of the stopped body, the client is told why.
    throw idle?.aborted ? idle.reason : err;
  } finally {
    idle?.removeEventListener('abort', onIdle);
    req.off('close', onClose);
  }
}

/** Bytes of a refused body read and dropped so the client can read the answer; past it, cut. */
const DRAIN_LIMIT = 1024 * 1024;

/**
 * After a refused upload: read and drop a little more of the body, so that a client still
 * sending can read the error, but close the connection rather than swallow a large upload.
 */
function discardRest(req: Request, res: Response): void {
  if (req.complete) return;
  req.unpipe();
  if (!res.headersSent) res.setHeader('Connection', 'close');
  let dropped = 0;
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > DRAIN_LIMIT) req.socket.destroy();
  });
  req.resume();
}
