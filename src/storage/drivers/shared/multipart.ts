import { isStorageError, StorageErrorCode } from '../../errors/storage.error';
import type { Readable } from 'node:stream';
import type { MultipartLimits } from '../storage-driver';

export const MIB = 1024 * 1024;

/** S3's multipart bounds (MinIO's too): parts of 5 MiB to 5 GiB (the last may be smaller), at most 10,000. */
export const S3_MULTIPART_LIMITS: MultipartLimits = {
  minPartSize: 5 * MIB,
  maxPartSize: 5 * 1024 * MIB,
  maxParts: 10_000,
};

/** Reads `body` as consecutive buffers of exactly `size` bytes; the last may be shorter (or empty). */
export async function* readChunks(body: Readable, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let length = 0;
  let yielded = false;
  for await (const data of body) {
    let chunk = typeof data === 'string' ? Buffer.from(data) : (data as Buffer);
    while (length + chunk.length >= size) {
      const take = size - length;
      parts.push(chunk.subarray(0, take));
      chunk = chunk.subarray(take);
      yield Buffer.concat(parts, size);
      yielded = true;
      parts = [];
      length = 0;
    }
    if (chunk.length > 0) {
      parts.push(chunk);
      length += chunk.length;
    }
  }
  if (length > 0 || !yielded) yield Buffer.concat(parts, length);
}

/** The steps of an S3-style multipart upload, in one backend's SDK. */
export interface MultipartTarget {
  /** Stores a body that fits in one part with a single request. */
  putWhole(data: Buffer): Promise<void>;
  begin(): Promise<string>;
  /** Uploads part `partNumber` (from 1) and resolves with its ETag. */
  uploadPart(uploadId: string, partNumber: number, data: Buffer): Promise<string>;
  complete(uploadId: string, parts: { partNumber: number; etag: string }[]): Promise<void>;
  abort(uploadId: string): Promise<void>;
}

/**
 * Streams `body` to `target` holding up to `queueSize` parts in memory (one being read, the
 * others being sent): a single request when the body fits in one part, else a multipart upload
 * that is aborted (nothing committed) when the body or any request fails. The abort is sent once
 * no part is in flight any more (S3 may keep a part that lands after an abort); if the abort
 * itself fails, the upload stays open on the backend for the reconciler to find
 * (`listUnfinishedUploads`). For SDKs whose own stream upload cannot do that.
 */
export async function multipartUpload(
  body: Readable,
  partSize: number,
  target: MultipartTarget,
  queueSize = 1,
): Promise<void> {
  const chunks = readChunks(body, partSize);
  const first = (await chunks.next()).value ?? Buffer.alloc(0);
  const second = first.length === partSize ? await chunks.next() : undefined;
  if (!second || second.done) {
    await target.putWhole(first);
    return;
  }
  const uploadId = await target.begin();
  const parts: { partNumber: number; etag: string }[] = [];
  const inFlight = new Set<Promise<void>>();
  let failed: { err: unknown } | undefined;
  const settle = async (all: boolean) => {
    if (all) await Promise.all(inFlight);
    else await Promise.race(inFlight);
    if (failed) throw failed.err;
  };
  const send = async (partNumber: number, data: Buffer) => {
    while (inFlight.size >= Math.max(1, queueSize)) await settle(false);
    if (failed) throw failed.err;
    const sent = target.uploadPart(uploadId, partNumber, data).then(
      (etag) => void parts.push({ partNumber, etag }),
      (err: unknown) => void (failed ??= { err }),
    );
    const tracked: Promise<void> = sent.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  };
  try {
    let partNumber = 0;
    await send(++partNumber, first);
    await send(++partNumber, second.value);
    for await (const data of chunks) await send(++partNumber, data);
    await settle(true);
    parts.sort((a, b) => a.partNumber - b.partNumber);
    await target.complete(uploadId, parts);
  } catch (err) {
    await Promise.all(inFlight);
    const aborted = target.abort(uploadId).catch(() => undefined);
    // When the backend did not answer, the client is not kept waiting another timeout for the
    // abort: it goes on in the background, and the reconciler aborts the upload if it fails.
    if (!isStorageError(err, StorageErrorCode.BACKEND_UNAVAILABLE)) await aborted;
    throw err;
  }
}
