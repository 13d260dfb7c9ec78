import fs from 'node:fs';
import { OutgoingMessage } from 'node:http';
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
    return bindSignal(new LocalReadStream(fd, start, end), signal);
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

/**
 * Marks a `res.write` replacement that hands every chunk and its callback to the write it wraps,
 * keeping nothing after (the metrics middleware's byte counter): a response whose `write` is
 * Node's own or so marked calls back once a chunk's bytes are with the socket.
 */
export const PASSES_WRITE_CALLBACK = Symbol.for('storage-svc.passesWriteCallback');

/** Whether `write` is Node's response write or a wrapper marked `PASSES_WRITE_CALLBACK`. */
export function passesWriteCallback(write: unknown): boolean {
  return (
    write === OutgoingMessage.prototype.write ||
    (typeof write === 'function' && (write as { [PASSES_WRITE_CALLBACK]?: boolean })[PASSES_WRITE_CALLBACK] === true)
  );
}

/** How many read buffers a download piped to a response cycles through: one read while one is sent. */
const RECYCLED_BUFFERS = 2;

/**
 * Bytes `start`..`end` of an open descriptor (closed when the stream ends or is destroyed, after
 * a read in progress). Read as a stream, each chunk is a buffer of its own. Piped into a response
 * whose `write` calls back when the socket has the bytes (`passesWriteCallback`), it reuses two
 * buffers instead: a buffer is read into again only after its write called back, which is also
 * the backpressure (a fresh 1 MiB buffer per read cost the GC and page faults on large files).
 * Any other destination (a Transform, a compressing `res.write`, a listener already reading) may
 * keep a chunk after its callback, and gets the ordinary pipe.
 */
export class LocalReadStream extends Readable {
  private position: number;
  private readonly chunk: number;
  private reading = false;
  private recycling = false;
  private afterRead: (() => void) | null = null;

  constructor(
    private readonly fd: number,
    start: number,
    private readonly end: number,
  ) {
    super({ highWaterMark: readBufferSize(end - start + 1) });
    this.position = start;
    this.chunk = readBufferSize(end - start + 1);
  }

  override _read(): void {
    if (this.recycling || this.reading) return;
    if (this.position > this.end) return void this.push(null);
    const buffer = Buffer.allocUnsafeSlow(Math.min(this.chunk, this.end - this.position + 1));
    this.readInto(buffer, (n) => this.push(n ? buffer.subarray(0, n) : null));
  }

  override pipe<T extends NodeJS.WritableStream>(dest: T, options?: { end?: boolean }): T {
    const res = dest as unknown as OutgoingMessage;
    const fresh = this.readableFlowing === null && this.readableLength === 0 && !this.reading && !this.recycling;
    if (!fresh || !(dest instanceof OutgoingMessage) || !passesWriteCallback(res.write)) {
      return super.pipe(dest, options);
    }
    this.recycling = true;
    const buffers = this.end - this.position + 1 > this.chunk ? RECYCLED_BUFFERS : 1;
    const free: Buffer[] = Array.from({ length: buffers }, () => Buffer.allocUnsafeSlow(this.chunk));
    let sending = 0;
    let done = false;
    // The response closed first (the client went away): stop reading, release the descriptor.
    const gone = () => {
      if (!done) this.destroy();
    };
    res.once('close', gone);
    const next = (): void => {
      if (this.destroyed || done) return;
      if (this.position > this.end) {
        if (sending || this.reading) return;
        done = true;
        res.off('close', gone);
        if (options?.end !== false) res.end();
        this.push(null);
        this.resume();
        return;
      }
      const buffer = this.reading ? undefined : free.pop();
      if (!buffer) return;
      this.readInto(buffer, (n) => {
        if (n === 0) {
          // The file is shorter than its stat said: end here, as a read stream does.
          this.position = this.end + 1;
          free.push(buffer);
        } else {
          sending++;
          res.write(n === buffer.length ? buffer : buffer.subarray(0, n), () => {
            sending--;
            free.push(buffer);
            next();
          });
        }
        next();
      });
    };
    next();
    return dest;
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    const close = () => fs.close(this.fd, () => callback(err));
    if (this.reading) this.afterRead = close;
    else close();
  }

  /** One `fs.read` at the current position into `buffer` (at most what is left); `done(bytes)`. */
  private readInto(buffer: Buffer, done: (bytes: number) => void): void {
    this.reading = true;
    const length = Math.min(buffer.length, this.end - this.position + 1);
    fs.read(this.fd, buffer, 0, length, this.position, (err, bytes) => {
      this.reading = false;
      if (this.afterRead) return this.afterRead();
      if (this.destroyed) return;
      if (err) return void this.destroy(err);
      this.position += bytes;
      done(bytes);
    });
  }
}
