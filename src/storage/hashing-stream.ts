import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { StorageError, StorageErrorCode } from './errors/storage.error';

export interface HashingStreamOptions {
  /** Refuse (E_TOO_LARGE) as soon as more bytes than this pass. */
  maxBytes?: number;
  /** Refuse (E_MD5_MISMATCH) at the end when the bytes hash differently. */
  expectedMd5?: string;
  /** Refuse (E_INVALID_ARGUMENT) at the end when the byte count differs (a declared length). */
  expectedSize?: number;
}

/**
 * Passes bytes through while counting and hashing them. Its checks fail the stream *before* it
 * ends, so a driver consuming it never commits a rejected upload (see `StorageDriver.put`).
 */
export class HashingStream extends Transform {
  private readonly hash: Hash = createHash('md5');
  private count = 0;
  private digest?: string;

  constructor(private readonly options: HashingStreamOptions = {}) {
    super({ highWaterMark: 1024 * 1024 });
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
    this.hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.digest = this.hash.digest('hex');
    const { expectedMd5, expectedSize } = this.options;
    if (expectedSize !== undefined && this.count !== expectedSize) {
      callback(
        new StorageError(
          StorageErrorCode.INVALID_ARGUMENT,
          `received ${this.count} bytes but ${expectedSize} were declared`,
        ),
      );
      return;
    }
    if (expectedMd5 !== undefined && this.digest !== expectedMd5) {
      callback(
        new StorageError(StorageErrorCode.MD5_MISMATCH, `the data hashes to ${this.digest}, not to the md5 given`, {
          expected: expectedMd5,
          actual: this.digest,
        }),
      );
      return;
    }
    callback();
  }
}
