import type { Hash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { checksumHash, type ChecksumAlgorithm } from './upload-checksum';

/**
 * The bytes of one PATCH on their way into a staged chunk object: counted, hashed when the client
 * sent a checksum, and ended cleanly when the request breaks, so that what arrived before a cut
 * is committed as a chunk (tus resumes at the offset the server reports). `cut` says that the
 * source failed rather than ended.
 */
export class ChunkBody extends Transform {
  bytes = 0;
  cut = false;
  private readonly hash: Hash | undefined;

  private constructor(algorithm: ChecksumAlgorithm | undefined) {
    super();
    this.hash = checksumHash(algorithm);
  }

  /** Reads `source` into a new chunk body; a failing `source` ends it (as `cut`) instead of failing it. */
  static of(source: Readable, algorithm?: ChecksumAlgorithm): ChunkBody {
    const body = new ChunkBody(algorithm);
    source.once('error', () => {
      body.cut = true;
      source.unpipe(body);
      body.end();
    });
    source.pipe(body);
    return body;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    this.hash?.update(chunk);
    done(null, chunk);
  }

  /** The base64 digest of what passed (only with an algorithm, once ended). */
  digest(): string | undefined {
    return this.hash?.digest('base64');
  }
}
