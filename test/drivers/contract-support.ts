import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import type { RawOptions } from '../../src/storage/config/option-readers';
import { parseInstance } from '../../src/storage/drivers/driver-definitions';
import type { StorageDriver } from '../../src/storage/drivers/storage-driver';

export const MIB = 1024 * 1024;
const BLOCK = MIB;
const STAMP_EVERY = 64 * 1024;

const blocks = new Map<number, Buffer>();
function seedBlock(seed: number): Buffer {
  let block = blocks.get(seed);
  if (!block) {
    // xorshift32: reproducible bytes without holding the object in memory
    block = Buffer.alloc(BLOCK);
    let x = seed || 1;
    for (let i = 0; i < BLOCK; i += 4) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      block.writeUInt32LE(x >>> 0, i);
    }
    blocks.set(seed, block);
  }
  return block;
}

export interface PatternOptions {
  seed?: number;
  /** Destroy the stream with `error` once this many bytes have been produced. */
  failAt?: number;
  error?: Error;
}

/**
 * `size` pseudo-random bytes, produced 1 MiB at a time. Every 64 KiB carries its own offset, so
 * parts stored out of order or twice change the hash.
 */
export function patternStream(size: number, options: PatternOptions = {}): Readable {
  const block = seedBlock(options.seed ?? 7);
  let offset = 0;
  return new Readable({
    highWaterMark: BLOCK,
    read() {
      if (options.failAt !== undefined && offset >= options.failAt) {
        this.destroy(options.error ?? new Error('the body failed midway'));
        return;
      }
      if (offset >= size) {
        this.push(null);
        return;
      }
      const length = Math.min(BLOCK, size - offset, (options.failAt ?? Infinity) - offset);
      const chunk = Buffer.from(block.subarray(0, length));
      for (let at = 0; at + 8 <= length; at += STAMP_EVERY) chunk.writeDoubleLE(offset + at, at);
      offset += length;
      this.push(chunk);
    },
  });
}

export async function sha256Of(stream: Readable): Promise<{ hash: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { hash: hash.digest('hex'), size };
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function bufferStream(data: Buffer | string): Readable {
  return Readable.from([Buffer.from(data)]);
}

/** `data` streamed in chunks of `size` bytes (the last may be shorter). */
export function chunkedStream(data: Buffer, size: number): Readable {
  const pieces: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) pieces.push(data.subarray(i, i + size));
  return Readable.from(pieces);
}

export function randomData(size: number): Buffer {
  return randomBytes(size);
}

export { eventually } from '../harness/util';

/**
 * A TCP server on 127.0.0.1 that accepts connections and never answers: a backend that hangs.
 * `close` drops the held sockets.
 */
export async function startSilentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Runs `build`; when it throws, runs `cleanup` (for a peer already started) and rethrows. */
export async function cleanUpOnError<T>(cleanup: () => Promise<void>, build: () => Promise<T>): Promise<T> {
  try {
    return await build();
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/**
 * A driver built from instance options as an operator configures them, through its type's
 * definition (options parsed, driver module loaded); `name` is the instance's element name.
 */
export async function buildDriver<D extends StorageDriver>(
  name: string,
  config: RawOptions,
  baseDir = process.cwd(),
): Promise<D> {
  return (await parseInstance(config, `storages['${name}']`).create({ name, baseDir })) as D;
}

/**
 * Sends `body` the way a signed upload says: a `PUT` with its headers, or for a `POST` policy a
 * multipart form with every field in order and the file last. `contentType` replaces the signed
 * type (to see it refused); `url` another address; `fields` changes some form fields.
 */
export async function sendSigned(
  signed: { url: string; method: string; headers: Record<string, string>; fields?: Record<string, string> },
  body: string | Buffer,
  options: { url?: string; contentType?: string; fields?: Record<string, string> } = {},
): Promise<Response> {
  const url = options.url ?? signed.url;
  if (signed.method === 'POST') {
    const form = new FormData();
    const fields = { ...signed.fields, ...options.fields };
    if (options.contentType) fields['Content-Type'] = options.contentType;
    for (const [name, value] of Object.entries(fields)) form.append(name, value);
    form.append('file', new Blob([body], { type: fields['Content-Type'] }));
    return fetch(url, { method: 'POST', body: form });
  }
  const headers = options.contentType ? { ...signed.headers, 'Content-Type': options.contentType } : signed.headers;
  return fetch(url, { method: signed.method, headers, body });
}
