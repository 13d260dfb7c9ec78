import type { Request, Response } from 'express';
import { pipeline } from 'node:stream/promises';
import { StorageError, StorageErrorCode } from '../errors/storage.error';
import { contentDisposition } from './content-disposition';
import type { FileResponse } from '../serving/file-response';
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
  const { size, etag, lastModified } = file;
  noteStorageInstance(res, file.instance);
  setHeaders(res, file);
  if (isNotModified(req, etag, lastModified)) {
    res.status(304).end();
    return;
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
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const controller = new AbortController();
  res.once('close', () => controller.abort());
  const stream = await file.open(range ?? undefined, controller.signal);
  await pipeline(stream, res).catch((err: unknown) => {
    if (!controller.signal.aborted) throw err;
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
