import type { Readable } from 'node:stream';

export const MIB = 1024 * 1024;

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
 * Streams `body` to `target` holding one part in memory at a time: a single request when the body
 * fits in one part, else a multipart upload that is aborted (nothing committed) when the body or
 * any request fails. For SDKs whose own stream upload cannot do that.
 */
export async function multipartUpload(body: Readable, partSize: number, target: MultipartTarget): Promise<void> {
  const chunks = readChunks(body, partSize);
  const first = (await chunks.next()).value ?? Buffer.alloc(0);
  const second = first.length === partSize ? await chunks.next() : undefined;
  if (!second || second.done) {
    await target.putWhole(first);
    return;
  }
  const uploadId = await target.begin();
  try {
    const parts: { partNumber: number; etag: string }[] = [];
    const send = async (data: Buffer) => {
      const partNumber = parts.length + 1;
      parts.push({ partNumber, etag: await target.uploadPart(uploadId, partNumber, data) });
    };
    await send(first);
    await send(second.value);
    for await (const data of chunks) await send(data);
    await target.complete(uploadId, parts);
  } catch (err) {
    await target.abort(uploadId).catch(() => undefined);
    throw err;
  }
}
