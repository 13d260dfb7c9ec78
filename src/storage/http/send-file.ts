import type { Request, Response } from 'express';
import { pipeline } from 'node:stream/promises';
import { StorageError, StorageErrorCode } from '../errors/storage.error';
import type { OpenedFile, StorageService } from '../storage.service';
import { contentDisposition } from './content-disposition';
import { parseRange } from './http-range';

export interface SendOptions {
  disposition: 'inline' | 'attachment';
  cacheControl: string;
}

/**
 * The one response layer for stored files: validators, conditional requests, a single byte
 * range, HEAD, and a streamed body. Headers are set before any byte is read from the backend.
 */
export async function sendStoredFile(
  req: Request,
  res: Response,
  service: StorageService,
  file: string,
  storage: string | undefined,
  options: SendOptions,
): Promise<void> {
  const opened = await service.open(file, storage);
  const { size } = opened.stat;
  const etag = `"${opened.entity.md5}"`;
  const lastModified = new Date(opened.entity.uploadTime);
  setCommonHeaders(res, opened, etag, lastModified, options);

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
  const stream = await opened.instance.driver.get(opened.entity.name, {
    range: range ?? undefined,
    signal: controller.signal,
  });
  await pipeline(stream, res).catch((err: unknown) => {
    if (!controller.signal.aborted) throw err;
  });
}

function setCommonHeaders(res: Response, opened: OpenedFile, etag: string, lastModified: Date, options: SendOptions) {
  res.setHeader('Content-Type', opened.entity.type);
  res.setHeader('ETag', etag);
  res.setHeader('Last-Modified', lastModified.toUTCString());
  res.setHeader('Cache-Control', options.cacheControl);
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Content-Disposition', contentDisposition(options.disposition, opened.entity.fileName));
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

/** The range to serve, honouring `If-Range` (a stale validator means the whole file). */
function rangeFor(req: Request, size: number, etag: string, lastModified: Date) {
  const ifRange = req.get('if-range');
  if (ifRange) {
    const fresh =
      ifRange.startsWith('"') || ifRange.startsWith('W/')
        ? ifRange === etag
        : Date.parse(ifRange) >= Math.floor(lastModified.getTime() / 1000) * 1000;
    if (!fresh) return null;
  }
  return parseRange(req.headers.range, size);
}

function matchesEtag(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}
