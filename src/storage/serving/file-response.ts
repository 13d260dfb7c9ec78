import { Readable } from 'node:stream';
import { SMALL_BODY_BYTES, type ByteRange } from '../drivers/storage-driver';
import type { OpenedFile } from './opened-file';
import { isMediaType } from '../keys/media-type';

/**
 * What `preview`, `previewThumbnail` and download return: everything the response needs before
 * the body, and a way to open the body (whole or one range). `sendStorageResponse` speaks HTTP
 * for it; a host controller can call that too, or `open()` the bytes itself.
 */
export interface FileResponse {
  size: number;
  contentType: string;
  /** Strong and quoted: `"<content hash>"`. */
  etag: string;
  lastModified: Date;
  /** `inline` only where the preview rules allow it. */
  disposition: 'inline' | 'attachment';
  /** The original (UTF-8) name, for `Content-Disposition`. */
  fileName: string;
  cacheControl: string;
  /** More headers: `Content-Security-Policy`, `Vary`. */
  headers: Record<string, string>;
  /** The storage instance the bytes come from (element name): the byte counters' `instance` label. */
  instance?: string;
  open(range?: ByteRange, signal?: AbortSignal): Promise<Readable>;
  /** A small body (`SMALL_BODY_BYTES` at most) in one read, where the backend can: used instead of `open`. */
  read?(range?: ByteRange): Promise<Buffer>;
  /** Releases what was opened for the body when `open` is not called (a 304, a HEAD, a refusal). */
  close?(): void;
}

/**
 * Documents that can run script are rendered in a unique origin with scripts off, whatever
 * they are. Applied to every response except inline PDF, which browsers refuse to show sandboxed
 * (their viewers run PDF script apart from the page's origin).
 */
export const SANDBOX_CSP = 'sandbox';

/** A download: always an attachment, revalidated on every use (`no-cache`), never in a shared cache. */
export const DOWNLOAD_RESPONSE = { disposition: 'attachment', cacheControl: 'private, no-cache' } as const;

/** The response for a stored file: its record's hash, time, type and name; bytes from its backend. */
export function storedFileResponse(
  opened: OpenedFile,
  options: { disposition: 'inline' | 'attachment'; cacheControl: string },
): FileResponse {
  const { entity, instance, stat, object } = opened;
  const inlinePdf = options.disposition === 'inline' && entity.type.toLowerCase().startsWith('application/pdf');
  return {
    size: stat.size,
    // A type stored before types were checked, that a header cannot carry, is served as bytes.
    contentType: isMediaType(entity.type) ? entity.type : 'application/octet-stream',
    etag: `"${entity.md5}"`,
    lastModified: new Date(entity.uploadTime),
    disposition: options.disposition,
    fileName: entity.fileName,
    cacheControl: options.cacheControl,
    headers: inlinePdf ? {} : { 'Content-Security-Policy': SANDBOX_CSP },
    instance: instance.name,
    open: (range, signal) => object.stream(range, signal),
    ...(object.read && stat.size <= SMALL_BODY_BYTES ? { read: object.read.bind(object) } : {}),
    close: () => object.close(),
  };
}

/** A body held in memory (a thumbnail just rendered), served like any other. */
export function bufferBody(data: Buffer): FileResponse['open'] {
  return async (range) => Readable.from([range ? data.subarray(range.start, range.end + 1) : data]);
}
