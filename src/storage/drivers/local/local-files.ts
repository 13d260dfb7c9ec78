import fs from 'node:fs';
import { Readable } from 'node:stream';
import type { ByteRange, ObjectStat, OpenObject } from '../storage-driver';
import { bindSignal } from '../shared/deadline';

// File-descriptor work for the local driver with Node's callback API: one thread-pool trip per
// call, no `FileHandle` (promise-based reads, a finaliser per handle) on the hot path.

/** Largest read buffer; a smaller read (a small file, a range) gets a buffer of its own length. */
export const READ_CHUNK = 1024 * 1024;

/** How long an opened object that is never streamed holds its descriptor (a host that dropped it). */
export const UNREAD_CLOSE_MS = 30_000;

export function openFd(file: string, flags: number | string, mode?: number): Promise<number> {
  return new Promise((resolve, reject) => fs.open(file, flags, mode, (err, fd) => (err ? reject(err) : resolve(fd))));
}

export function fstatFd(fd: number): Promise<fs.Stats> {
  return new Promise((resolve, reject) => fs.fstat(fd, (err, info) => (err ? reject(err) : resolve(info))));
}

function readFd(fd: number, buffer: Buffer, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) =>
    fs.read(fd, buffer, offset, length, position, (err, bytes) => (err ? reject(err) : resolve(bytes))),
  );
}

/** A small body read from a stream (a key opened again): at most `SMALL_BODY_BYTES`. */
async function readWhole(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));
}

export function closeFd(fd: number): Promise<void> {
  return new Promise((resolve) => fs.close(fd, () => resolve()));
}

/**
 * The path an open descriptor names (Linux `/proc/self/fd`), or null where there is no such view:
 * read without a thread-pool trip, the link is in memory.
 */
export function pathOfFdNow(fd: number): string | null {
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return null;
  }
}

/** Read buffer for `length` bytes: its own size when smaller than `READ_CHUNK`. */
export function readBufferSize(length: number): number {
  return Math.max(1, Math.min(READ_CHUNK, length));
}

/**
 * A file opened for reading: `stat` from `fstat` of the descriptor, bytes streamed from it with
 * `end` given and a buffer sized to what is read. The first `stream` owns the descriptor (closed
 * when the stream ends or is destroyed); one never streamed is closed by `close`, or after
 * `UNREAD_CLOSE_MS` at the latest, and `stream` then opens the key again through `reopen`.
 */
export class LocalOpenObject implements OpenObject {
  private fd: number | null;
  private readonly timer: NodeJS.Timeout;

  constructor(
    fd: number,
    private readonly file: string,
    readonly stat: ObjectStat,
    private readonly reopen: (range?: ByteRange, signal?: AbortSignal) => Promise<Readable>,
  ) {
    this.fd = fd;
    this.timer = setTimeout(() => this.close(), UNREAD_CLOSE_MS).unref();
  }

  async stream(range?: ByteRange, signal?: AbortSignal): Promise<Readable> {
    const fd = this.take();
    if (fd === null) return this.reopen(range, signal);
    const start = range?.start ?? 0;
    const end = range?.end ?? this.stat.size - 1;
    if (end < start) {
      void closeFd(fd);
      return Readable.from([]);
    }
    const stream = fs.createReadStream(this.file, { fd, start, end, highWaterMark: readBufferSize(end - start + 1) });
    return bindSignal(stream, signal);
  }

  async read(range?: ByteRange): Promise<Buffer> {
    const fd = this.take();
    if (fd === null) return readWhole(await this.reopen(range));
    const start = range?.start ?? 0;
    const length = Math.max(0, (range?.end ?? this.stat.size - 1) - start + 1);
    try {
      const buffer = Buffer.allocUnsafe(length);
      let filled = 0;
      while (filled < length) {
        const got = await readFd(fd, buffer, filled, length - filled, start + filled);
        if (got === 0) throw new Error(`${this.file} ended at ${start + filled} of ${start + length} bytes`);
        filled += got;
      }
      return buffer;
    } finally {
      // Closing a descriptor opened read-only flushes nothing: done in place, not as a thread-pool trip.
      fs.closeSync(fd);
    }
  }

  close(): void {
    const fd = this.take();
    if (fd !== null) void closeFd(fd);
  }

  private take(): number | null {
    const { fd } = this;
    this.fd = null;
    clearTimeout(this.timer);
    return fd;
  }
}
