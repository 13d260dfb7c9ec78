import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { StorageError, StorageErrorCode } from '../errors/storage.error';
import { md5Workers, type Md5Session } from './md5-worker';

export interface HashingStreamOptions {
  /** Refuse (E_TOO_LARGE) as soon as more bytes than this pass. */
  maxBytes?: number;
  /** Refuse (E_MD5_MISMATCH) at the end when the bytes hash differently. */
  expectedMd5?: string;
  /** Refuse (E_INVALID_ARGUMENT) at the end when the byte count differs (a declared length). */
  expectedSize?: number;
}

/** Bodies declared smaller than this are hashed inline: a worker round trip would cost more. */
const INLINE_BELOW = 4 * 1024 * 1024;

/**
 * Passes bytes through while counting and hashing them. Its checks fail the stream *before* it
 * ends, so a driver consuming it never commits a rejected upload (see `StorageDriver.put`).
 * Large or unknown-size bodies are hashed on a worker thread, keeping the event loop free.
 */
export class HashingStream extends Transform {
  private readonly inline?: Hash;
  private readonly worker?: Md5Session;
  private count = 0;
  private digest?: string;

  constructor(private readonly options: HashingStreamOptions = {}) {
    super({ highWaterMark: 1024 * 1024 });
    const small = options.expectedSize !== undefined && options.expectedSize < INLINE_BELOW;
    if (small) this.inline = createHash('md5');
    else this.worker = md5Workers().open((err) => this.destroy(internal(err)));
  }

  get bytes(): number {
    return this.count;
  }

  /** The hex md5 of everything that passed; available once the stream has ended. */
  get md5(): string {
    if (!this.digest) throw new Error('md5 read before the stream ended');
    return this.digest;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.count += chunk.length;
    const { maxBytes } = this.options;
    if (maxBytes !== undefined && this.count > maxBytes) {
      callback(StorageError.tooLarge(maxBytes));
      return;
    }
    if (this.inline) {
      this.inline.update(chunk);
      callback(null, chunk);
    } else {
      this.push(chunk);
      this.worker!.update(chunk, () => callback());
    }
  }

  override _flush(callback: TransformCallback): void {
    const digest = this.inline ? Promise.resolve(this.inline.digest('hex')) : this.worker!.digest();
    digest.then(
      (hex) => {
        this.digest = hex;
        callback(this.check(hex));
      },
      (err: Error) => callback(internal(err)),
    );
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.digest) this.worker?.drop();
    callback(err);
  }

  private check(digest: string): StorageError | null {
    const { expectedMd5, expectedSize } = this.options;
    if (expectedSize !== undefined && this.count !== expectedSize) {
      return new StorageError(
        StorageErrorCode.INVALID_ARGUMENT,
        `received ${this.count} bytes but ${expectedSize} were declared`,
      );
    }
    if (expectedMd5 !== undefined && digest !== expectedMd5) {
      return new StorageError(StorageErrorCode.MD5_MISMATCH, `the data hashes to ${digest}, not to the md5 given`, {
        expected: expectedMd5,
        actual: digest,
      });
    }
    return null;
  }
}

function internal(err: Error): StorageError {
  return new StorageError(StorageErrorCode.INTERNAL, 'hashing failed', {}, { cause: err });
}
