import fs from 'node:fs';
import { finished, Writable, type Readable } from 'node:stream';
import { READ_CHUNK } from './local-files';

// The write side of the local driver with Node's callback API: one thread-pool trip per call,
// and no `stream/promises` pipeline (it aborts a controller of its own, a DOMException with a
// stack, on every normal finish).

export function renameFile(from: string, to: string): Promise<void> {
  return new Promise((resolve, reject) => fs.rename(from, to, (err) => (err ? reject(err) : resolve())));
}

export function lstatPath(file: string): Promise<fs.Stats> {
  return new Promise((resolve, reject) => fs.lstat(file, (err, info) => (err ? reject(err) : resolve(info))));
}

/** Removes a file, ignoring every failure (it may already be gone): for cleaning up a temp file. */
export function unlinkQuietly(file: string): Promise<void> {
  return new Promise((resolve) => fs.unlink(file, () => resolve()));
}

/** The upload's signal fired: mapped as `stream/promises` pipeline's `AbortError` was (`ABORT_ERR`). */
export class WriteAborted extends Error {
  override readonly name = 'AbortError';
  readonly code = 'ABORT_ERR';
  constructor(reason: unknown) {
    super('The operation was aborted', { cause: reason });
  }
}

/**
 * Streams `body` into the descriptor `fd` (from its start) and resolves with the bytes written
 * once all are written. Rejects with the body's error, a premature close of it, a write error or
 * `WriteAborted` when `signal` fires; then the body is destroyed, and no write is in flight on
 * `fd` any more when the promise settles. The signal gets one listener, removed at the end, and
 * only fires it when aborted. The descriptor is never closed here.
 */
export function writeBody(body: Readable, fd: number, signal?: AbortSignal): Promise<number> {
  return new Promise((resolve, reject) => {
    const sink = new FileSink(fd);
    let settled = false;
    const settle = (err?: unknown) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (err === undefined) return resolve(sink.bytes);
      body.unpipe(sink);
      body.destroy();
      if (sink.closed) return reject(err);
      sink.once('close', () => reject(err));
      sink.destroy();
    };
    const onAbort = () => settle(new WriteAborted(signal?.reason));
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    finished(body, { writable: false }, (err) => {
      if (err) settle(err);
    });
    finished(sink, (err) => settle(err ?? undefined));
    body.pipe(sink);
  });
}

/**
 * Writes what is piped into it to `fd`, at positions counted from 0, with `writev` (what queued
 * while a write was in flight goes in one call; partial writes are continued). Destroyed while a
 * write is in flight, it closes only once that write is back. It never closes the descriptor.
 */
class FileSink extends Writable {
  bytes = 0;
  private inFlight = false;
  private whenIdle: (() => void) | null = null;

  constructor(private readonly fd: number) {
    super({ highWaterMark: READ_CHUNK });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.writeAll([chunk], callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (err?: Error | null) => void): void {
    this.writeAll(
      chunks.map((c) => c.chunk),
      callback,
    );
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    if (!this.inFlight) return callback(err);
    this.whenIdle = () => callback(err);
  }

  private writeAll(buffers: Buffer[], callback: (err?: Error | null) => void): void {
    this.inFlight = true;
    const done = (err: Error | null) => {
      this.inFlight = false;
      const idle = this.whenIdle;
      this.whenIdle = null;
      callback(err);
      idle?.();
    };
    const next = (rest: Buffer[]) =>
      fs.writev(this.fd, rest, this.bytes, (err, written) => {
        if (err) return done(err);
        this.bytes += written;
        const left = dropBytes(rest, written);
        if (left.length === 0 || this.destroyed) return done(null);
        next(left);
      });
    next(buffers);
  }
}

/** `buffers` without their first `count` bytes. */
function dropBytes(buffers: Buffer[], count: number): Buffer[] {
  let i = 0;
  while (i < buffers.length && count >= buffers[i].length) count -= buffers[i++].length;
  if (i === buffers.length) return [];
  const rest = buffers.slice(i);
  rest[0] = rest[0].subarray(count);
  return rest;
}
