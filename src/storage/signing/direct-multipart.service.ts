import { Inject, Injectable } from '@nestjs/common';
import { Clock } from '../ledger/clock';
import type { MultipartLimits, SignedUpload, StorageDriver, UploadedPart } from '../drivers/storage-driver';
import { StorageError, StorageErrorCode } from '../errors/storage.error';
import type { FileRecord } from '../database/file-record';
import { normalizeKey } from '../keys/keys';
import { InjectStorageOptions, type ResolvedStorageOptions } from '../options/resolved-options';
import { StorageRegistry, type StorageInstance } from '../registry/storage-registry';
import { SignedUploadService } from './signed-upload.service';
import { UploadGrants, type SignOptions } from './upload-grants';

/** Part URLs signed per request, at most. */
export const MAX_PARTS_PER_BATCH = 100;
/** The part size suggested when neither the client nor the file's size asks for more. */
const DEFAULT_PART_SIZE = 16 * 1024 * 1024;

/** What `POST {prefix}/sign/multipart` answers: the upload's ids, its part size and when it lapses. */
export interface StartedMultipart {
  /** The grant's id: sent back with every part, complete and abort request. */
  id: string;
  /** The backend's upload id. */
  uploadId: string;
  partSize: number;
  limits: MultipartLimits;
  expiresAt: number;
}

/** One direct multipart upload a caller names in a request: grant id and backend upload id. */
export interface MultipartRef {
  file: string;
  storage?: string;
  id: string;
  uploadId: string;
  user?: string;
}

/** A part URL: PUT the part's bytes to `url` with exactly `headers`; keep the answer's `ETag`. */
export interface SignedPart extends SignedUpload {
  partNumber: number;
}

/** A cloud driver with direct multipart uploads. */
type MultipartDriver = Required<
  Pick<StorageDriver, 'multipartLimits' | 'beginMultipart' | 'signPart' | 'completeMultipart' | 'abortMultipart'>
>;

/**
 * Direct multipart uploads to cloud buckets (S3, MinIO, OSS multipart; Azure blocks): the service
 * begins the backend's upload under a staging key and records a grant (the normal upload rules:
 * path, size limit, type, user), signs part URLs in batches, and on completion joins the parts
 * and records the object through `SignedUploadService.completeRedeemed` (size and type checked,
 * md5 and expiry as granted, versioned overwrite). Local disk has none: clients use tus or a
 * signed PUT there.
 */
@Injectable()
export class DirectMultipartService {
  constructor(
    @Inject(Clock) private readonly clock: Clock,
    @InjectStorageOptions() private readonly options: ResolvedStorageOptions,
    private readonly registry: StorageRegistry,
    private readonly grants: UploadGrants,
    private readonly signed: SignedUploadService,
  ) {}

  /** Begins an upload of `file` (`size` bytes when known) and records its grant. */
  async start(
    file: string,
    contentType: string,
    storage: string | undefined,
    options: SignOptions & { size?: number; partSize?: number },
  ): Promise<StartedMultipart> {
    const instance = this.registry.get(storage);
    const driver = multipartDriver(instance);
    const limit = Math.min(options.maxSize ?? this.options.maxUploadSize, this.options.maxUploadSize);
    if (options.size !== undefined && options.size > limit) throw StorageError.tooLarge(limit);
    const limits = driver.multipartLimits;
    const partSize = choosePartSize(limits, options.size, options.partSize);
    const { grant, uploadId } = await this.grants.issueMultipart(instance, file, contentType, options, (key, type) =>
      driver.beginMultipart(key, type),
    );
    return { id: grant.nonce, uploadId, partSize, limits, expiresAt: grant.expiresAt };
  }

  /** URLs for `partNumbers` (at most `MAX_PARTS_PER_BATCH`), valid until the grant expires. */
  async signParts(ref: MultipartRef, partNumbers: number[]): Promise<SignedPart[]> {
    const { driver, grant } = await this.open(ref);
    if (partNumbers.length === 0 || partNumbers.length > MAX_PARTS_PER_BATCH) {
      throw StorageError.invalidArgument(`ask for 1 to ${MAX_PARTS_PER_BATCH} parts at a time`);
    }
    for (const n of partNumbers) checkPartNumber(n, driver.multipartLimits);
    const expiresIn = Math.max(1, Math.floor((grant.expiresAt - this.clock.now()) / 1000));
    const staged = grant.stagingKey as string;
    const options = { expiresIn, contentType: grant.contentType };
    return Promise.all(
      partNumbers.map(async (partNumber) => ({
        partNumber,
        ...(await driver.signPart(staged, ref.uploadId, partNumber, options)),
      })),
    );
  }

  /**
   * Joins `parts` and records the file. The grant is redeemed first, so neither a second
   * completion nor the sweep can record it twice.
   */
  async complete(ref: MultipartRef, parts: UploadedPart[]): Promise<FileRecord> {
    const { instance, driver, grant } = await this.open(ref);
    checkParts(parts, driver.multipartLimits);
    const redeemed = await this.grants.redeem(grant.nonce, instance.name, grant.name, true);
    try {
      await driver.completeMultipart(grant.stagingKey as string, ref.uploadId, parts, grant.contentType);
    } catch (err) {
      // The parts are still there: the client may send what was missing and complete again.
      await this.grants.release(redeemed);
      throw err;
    }
    return this.signed.completeRedeemed(instance, redeemed);
  }

  /** Drops the upload and its parts; the grant is spent. */
  async abort(ref: MultipartRef): Promise<void> {
    const { instance, driver, grant } = await this.open(ref);
    const redeemed = await this.grants.redeem(grant.nonce, instance.name, grant.name, true);
    await driver.abortMultipart(redeemed.stagingKey as string, ref.uploadId);
  }

  private async open(ref: MultipartRef) {
    const instance = this.registry.get(ref.storage);
    const driver = multipartDriver(instance);
    const grant = await this.grants.open(ref.id, instance.name, normalizeKey(ref.file), ref.user ?? null);
    return { instance, driver, grant };
  }
}

function multipartDriver(instance: StorageInstance): MultipartDriver {
  const driver = instance.driver;
  if (!driver.multipartLimits || !driver.beginMultipart || !driver.signPart || !driver.completeMultipart) {
    throw new StorageError(
      StorageErrorCode.NOT_IMPLEMENTED,
      `${instance.name} has no direct multipart uploads; upload with tus ({prefix}/tus) or a signed PUT`,
    );
  }
  return driver as MultipartDriver;
}

/**
 * The part size: the client's wish or 16 MiB, raised so that `size` fits in `maxParts` parts and
 * kept within the backend's bounds.
 */
export function choosePartSize(limits: MultipartLimits, size?: number, wanted?: number): number {
  const fitting = size === undefined ? 0 : Math.ceil(size / limits.maxParts);
  const chosen = Math.max(wanted ?? DEFAULT_PART_SIZE, fitting, limits.minPartSize);
  if (chosen > limits.maxPartSize) {
    throw StorageError.invalidArgument(
      `the file needs parts larger than this backend allows (${limits.maxPartSize} bytes)`,
    );
  }
  return chosen;
}

function checkPartNumber(n: unknown, limits: MultipartLimits): void {
  if (!Number.isSafeInteger(n) || (n as number) < 1 || (n as number) > limits.maxParts) {
    throw StorageError.invalidArgument(`part numbers are whole numbers from 1 to ${limits.maxParts}`);
  }
}

/** Parts in ascending order without repeats, each with an ETag string. */
function checkParts(parts: UploadedPart[], limits: MultipartLimits): void {
  if (parts.length === 0) throw StorageError.invalidArgument("'parts' must list the uploaded parts");
  parts.forEach((part, i) => {
    checkPartNumber(part.partNumber, limits);
    if (typeof part.etag !== 'string') throw StorageError.invalidArgument('every part needs its ETag, as text');
    if (i > 0 && part.partNumber <= parts[i - 1].partNumber) {
      throw StorageError.invalidArgument('parts must be listed in ascending order, each once');
    }
  });
}
