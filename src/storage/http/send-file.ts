import type { Request, Response } from 'express';
import { finished, type Readable } from 'node:stream';
import { StorageError, StorageErrorCode } from '../errors/storage.error';
import { contentDisposition } from './content-disposition';
import type { FileResponse } from '../serving/file-response';
import type { ByteRange } from '../drivers/storage-driver';
import { writeStorageError } from '../errors/storage-exception.filter';
import { parseRange } from './http-range';
import { noteStorageInstance } from './metrics.middleware';

/** Marks a response as never to be sniffed. Called first, so that error answers carry it too. */
export function noSniff(res: Response): void {
  res.setHeader('X-Content-Type-Options', 'nosniff');
}

/**
 * Sends what `StorageService.downloadResponse`, `preview` or `previewThumbnail` returned, from a
 * host's own controller (`@Res()`): validators, conditional requests (304), one byte range (206,
 * 416), HEAD, safe headers, a streamed body. Pass the promise itself: a storage error (404 when
 * the file is absent, 416, ...) is answered as the module's own routes answer it,
 * `{statusCode, code, message}`, whatever the host's exception filters do.
 *
 * `await sendStorageResponse(req, res, storage.preview(path))`
 */
export async function sendStorageResponse(
  req: Request,
  res: Response,
  response: FileResponse | Promise<FileResponse>,
): Promise<void> {
  try {
    noSniff(res);
    await sendFileResponse(req, res, await response);
  } catch (err) {
    writeStorageError(res, err);
  }
}

/**
 * The one response layer for stored files, previews and thumbnails: validators, conditional
 * requests (304), a single byte range (206; 416 goes through the error filter with a
 * `Content-Range` naming the size), HEAD, and a streamed body. Every header is set before a byte is read.
 */
export async function sendFileResponse(req: Request, res: Response, file: FileResponse): Promise<void> {
  let streaming = false;
  try {
    const range = answerHeaders(req, res, file);
    if (range === 'no body' || res.destroyed) return;
    streaming = true;
    await sendBody(res, file, range ?? undefined);
  } finally {
    if (!streaming) file.close?.();
  }
}

/** Status and headers; 304 and HEAD answered here (`'no body'`); else the range to send, if any. */
function answerHeaders(req: Request, res: Response, file: FileResponse): ByteRange | null | 'no body' {
  const { size, etag, lastModified } = file;
  noteStorageInstance(res, file.instance);
  setHeaders(res, file);
  if (isNotModified(req, etag, lastModified)) {
    res.status(304).end();
    return 'no body';
  }
  const range = rangeFor(req, size, etag, lastModified);
  if (range === 'unsatisfiable') {
    res.setHeader('Content-Range', `bytes */${size}`);
    throw new StorageError(StorageErrorCode.RANGE_NOT_SATISFIABLE, `the range is outside the file's ${size} bytes`);
  }
  if (range) {
    res.status(206).setHeader('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
    res.setHeader('Content-Length', String(range.end - range.start + 1));
  } else {
    res.status(200).setHeader('Content-Length', String(size));
  }
  if (req.method !== 'HEAD') return range;
  res.end();
  return 'no body';
}

/**
 * Streams the body. A client that goes away aborts the open (cloud drivers) and the stream. A
 * response that ends normally aborts nothing and makes no exception (`stream/promises`' pipeline
 * aborts a controller of its own on every finish): the body is piped, its end awaited with `finished`.
 */
async function sendBody(res: Response, file: FileResponse, range: ByteRange | undefined): Promise<void> {
  // A small body: one read, sent with the headers (no stream to set up, pipe and tear down).
  if (file.read) return void res.end(await file.read(range));
  const controller = new AbortController();
  const gone = () => {
    if (!res.writableFinished) controller.abort();
  };
  res.once('close', gone);
  try {
    const stream = await file.open(range, controller.signal).catch((err: unknown) => {
      if (!controller.signal.aborted) throw err;
    });
    // The client went away (before or while the body was sent): nothing to answer, not a fault;
    // a failed read is one (logged, and the connection cut since the headers are gone).
    if (stream) await pipeToResponse(stream, res).catch((err: unknown) => void rethrowUnless(ResponseClosed, err));
  } finally {
    res.off('close', gone);
  }
}

function rethrowUnless(kind: new () => Error, err: unknown): void {
  if (!(err instanceof kind)) throw err;
}

/** The response closed before its end: the client went away. */
class ResponseClosed extends Error {}

/** Pipes `stream` into `res`; rejects with the stream's error, or `ResponseClosed` when the client left. */
function pipeToResponse(stream: Readable, res: Response): Promise<void> {
  return new Promise((resolve, reject) => {
    let failure: unknown;
    stream.once('error', (err) => {
      failure = err;
      res.destroy();
    });
    finished(res, (err) => {
      if (!err) return resolve();
      stream.destroy();
      reject(failure ?? new ResponseClosed());
    });
    stream.pipe(res);
  });
}

function setHeaders(res: Response, file: FileResponse): void {
  noSniff(res);
  res.setHeader('Content-Type', file.contentType);
  res.setHeader('ETag', file.etag);
  res.setHeader('Last-Modified', file.lastModified.toUTCString());
  res.setHeader('Cache-Control', file.cacheControl);
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('Content-Disposition', contentDisposition(file.disposition, file.fileName));
  for (const [name, value] of Object.entries(file.headers)) res.setHeader(name, value);
}

function isNotModified(req: Request, etag: string, lastModified: Date): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const inm = req.headers['if-none-match'];
  if (inm !== undefined) return matchesEtag(inm, etag);
  const ims = req.headers['if-modified-since'];
  if (ims) {
    const since = Date.parse(ims);
    return !Number.isNaN(since) && Math.floor(lastModified.getTime() / 1000) <= Math.floor(since / 1000);
  }
  return false;
}

/**
 * The range to serve, honouring `If-Range` (RFC 9110 13.1.5): only the same strong tag, or
 * exactly the `Last-Modified` date, is fresh; anything else (a weak tag, another date) means the
 * whole file.
 */
function rangeFor(req: Request, size: number, etag: string, lastModified: Date) {
  const ifRange = req.get('if-range');
  if (ifRange) {
    const fresh =
      ifRange.startsWith('"') || ifRange.startsWith('W/')
        ? ifRange === etag
        : Date.parse(ifRange) === Math.floor(lastModified.getTime() / 1000) * 1000;
    if (!fresh) return null;
  }
  return parseRange(req.headers.range, size);
}

/** Weak comparison, as `If-None-Match` asks (RFC 9110 13.1.2). */
function matchesEtag(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}
