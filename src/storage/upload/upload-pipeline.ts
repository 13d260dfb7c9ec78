import { Injectable, Logger } from '@nestjs/common';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FileEntity } from '../database/entities/file.entity';
import { isStorageError, StorageError, StorageErrorCode } from '../errors/storage.error';
import { HashingStream } from './hashing-stream';
import { ObjectPurger } from '../purge/object-purger';
import type { StorageInstance } from '../registry/storage-registry';
import { ObjectLedger, type RecordFields } from '../ledger/object-ledger';
import { UploadClaims, type UploadClaim } from './upload-claims';
import { InjectStorageOptions, type ResolvedStorageOptions } from '../options/resolved-options';

export interface PipelineInput {
  body: Readable;
  /** Content-addressed upload: the key is `{md5}{suffix}` and the bytes must hash to it. */
  md5?: string;
  /** Declared length, checked against what arrives. */
  size?: number;
  maxBytes: number;
  contentType: string;
  signal?: AbortSignal;
  /** The record to commit, given the bytes' md5 and size. */
  record(content: { md5: string; size: number }): Omit<RecordFields, 'objectKey'>;
}

/**
 * One upload from claim to record: claim and pin the key, stream the body into the object the
 * claim names (a new version of a plain path, or `{md5}{suffix}`; when that content is already
 * stored, only hash it), then commit the record under the key's lock: the switch. Bytes never
 * land on an object a committed record points at. Any failure releases the pin and removes what
 * this upload wrote, never content that others use.
 */
@Injectable()
export class UploadPipeline {
  private readonly logger = new Logger(UploadPipeline.name);

  constructor(
    @InjectStorageOptions() private readonly options: ResolvedStorageOptions,
    private readonly objects: ObjectLedger,
    private readonly claims: UploadClaims,
    private readonly purger: ObjectPurger,
  ) {}

  async run(instance: StorageInstance, key: string, input: PipelineInput): Promise<FileEntity> {
    const ref = this.objects.ref(instance.name, key);
    const hasher = new HashingStream({ maxBytes: input.maxBytes, expectedMd5: input.md5, expectedSize: input.size });
    const claim = await this.claims.claim(ref, { dedup: input.md5 !== undefined, md5: input.md5 });
    const beat = setInterval(
      () => this.claims.heartbeat(claim).catch((err) => this.logger.warn(`heartbeat of '${key}': ${err}`)),
      (this.options.lifecycle.uploadLeaseSeconds * 1000) / 3,
    );
    beat.unref();
    try {
      await this.transfer(instance, claim, hasher, input);
      clearInterval(beat);
      const committed = await this.claims.commit(claim, input.record({ md5: hasher.md5, size: hasher.bytes }));
      return committed.record;
    } catch (err) {
      clearInterval(beat);
      const retired = await this.claims.abandon(claim).catch((cause) => {
        this.logger.error(`releasing '${key}': ${cause}`);
        return [];
      });
      const removal = this.purger.purge(retired).catch((cause) => this.logger.error(`removing '${key}': ${cause}`));
      // A backend that did not answer would make the client wait another timeout for the removal:
      // it is queued (retired above), and the purger keeps trying until the backend is back.
      if (!isStorageError(err, StorageErrorCode.BACKEND_UNAVAILABLE)) await removal;
      throw err;
    }
  }

  private async transfer(
    instance: StorageInstance,
    claim: UploadClaim,
    hasher: HashingStream,
    input: PipelineInput,
  ): Promise<void> {
    const key = claim.objectKey;
    // The pin keeps the stored content from going away; it may still have been lost outside
    // our control (deleted from the bucket), and then this upload writes it again.
    if (claim.mode === 'verify' && !(await instance.driver.exists(key))) claim.mode = 'write';
    if (claim.mode === 'verify') {
      await pipeline(input.body, hasher, new Discard(), { signal: input.signal });
      return;
    }
    const { body } = input;
    // The body may have failed, or been cut, while the claim was taken (a malformed multipart
    // body, found by the parser): its 'error' was emitted before anyone listened, and piping it
    // would wait for ever with the pin held.
    if (body.errored || (body.destroyed && !body.readableEnded)) throw bodyFailed(body.errored);
    body.once('error', (err) => hasher.destroy(err));
    body.once('close', () => {
      if (!body.readableEnded) hasher.destroy(bodyFailed(body.errored));
    });
    // A short body can fail its check before the driver starts reading; the driver still sees
    // the errored stream, this listener only keeps the early error from being "unhandled".
    hasher.once('error', () => undefined);
    await instance.driver.put(key, body.pipe(hasher), {
      size: input.size,
      contentType: input.contentType,
      signal: input.signal,
    });
  }
}

/** The upload's body ended before its end: what the client sent was cut or could not be parsed. */
function bodyFailed(cause: unknown): StorageError {
  return new StorageError(StorageErrorCode.ABORTED, 'the upload body ended early', {}, { cause });
}

/** A sink that drops bytes: used to verify an upload whose content is already stored. */
class Discard extends Writable {
  override _write(_chunk: unknown, _enc: BufferEncoding, callback: () => void): void {
    callback();
  }
}
