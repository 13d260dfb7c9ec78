import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Readable } from 'node:stream';
import type { ObjectStat } from '../drivers/storage-driver';
import { isStorageError, quoteInput, StorageError, StorageErrorCode } from '../errors/storage.error';
import type { FileRecord } from '../database/file-record';
import { normalizeKey } from '../keys/keys';
import { ObjectLedger } from '../ledger/object-ledger';
import { StorageRegistry, type StorageInstance } from '../registry/storage-registry';
import type { UploadGrantEntity } from '../database/entities/upload-grant.entity';
import { UploadService } from '../upload/upload.service';
import { refused, UploadGrants } from './upload-grants';
import { permitFromQuery } from './upload-signer';
import { Clock } from '../ledger/clock';

/** A PUT to the service's own signed upload route, as the controller hands it over. */
export interface SignedPut {
  path: string;
  query: Record<string, unknown>;
  contentType: string | undefined;
  declared: number | undefined;
  body: Readable;
  signal: AbortSignal;
}

/**
 * The receiving end of signed uploads. Every check (signature, expiry, content type, declared
 * size, single use) is made before a byte is stored, and the size bound again while bytes
 * arrive; a refused upload stores nothing. A stored one gets its record as `uploadByFile` would
 * make it, with the signer as `uploadUser`.
 */
@Injectable()
export class SignedUploadService {
  private readonly logger = new Logger(SignedUploadService.name);

  constructor(
    @Inject(Clock) private readonly clock: Clock,
    private readonly storage: UploadService,
    private readonly grants: UploadGrants,
    private readonly registry: StorageRegistry,
    private readonly objects: ObjectLedger,
  ) {}

  /** `PUT {prefix}/upload/{path}?storage=&type=&max=&exp=&nonce=&sig=` (local disk). */
  async receive(put: SignedPut): Promise<FileRecord> {
    const key = normalizeKey(put.path);
    const parsed = permitFromQuery(key, put.query);
    if (!parsed) throw refused('the URL is not a complete signed upload URL');
    const { permit, signature } = parsed;
    if (!this.grants.verifier.verify(permit, signature)) throw refused('the signature does not match this upload');
    if (permit.expires * 1000 <= this.clock.now()) throw refused('the upload URL has expired');
    if ((put.contentType ?? '').trim() !== permit.contentType) {
      throw refused(`the Content-Type must be ${quoteInput(permit.contentType)}, as signed`);
    }
    if (put.declared !== undefined && put.declared > permit.maxSize) throw StorageError.tooLarge(permit.maxSize);
    const grant = await this.grants.redeem(permit.nonce, permit.storage, key, false);
    try {
      return await this.storage.uploadStream({
        file: key,
        body: put.body,
        storage: permit.storage,
        contentType: permit.contentType,
        size: put.declared,
        maxSize: permit.maxSize,
        ...recordFields(grant),
        signal: put.signal,
      });
    } catch (err) {
      // Nothing was stored: the URL may be used again until it expires.
      await this.grants.release(grant).catch((cause) => this.logger.error(`releasing a grant: ${cause}`));
      throw err;
    }
  }

  /**
   * `POST {prefix}/sign/complete`: after a direct upload to a cloud backend's presigned URL,
   * records the newest open staged grant of `file` by `user` whose object has arrived (see
   * `completeGrant`); a newer grant with nothing staged yet (another URL, or a multipart upload
   * still sending parts) does not hide it. `E_NOT_FOUND` when nothing arrived.
   */
  async complete(file: string, storage: string | undefined, user: string | undefined): Promise<FileRecord> {
    const instance = this.registry.get(storage);
    if (!instance.driver.signUpload) {
      throw StorageError.invalidArgument(
        `signed uploads to ${instance.name} are recorded by their PUT; nothing to complete`,
      );
    }
    const key = normalizeKey(file);
    const open = (await this.grants.openStaged(instance.name, key)).filter((g) => g.uploadUser === (user ?? null));
    if (open.length === 0) throw StorageError.notFound(key, instance.name);
    for (const grant of open) {
      if (await instance.driver.exists(grant.stagingKey as string)) return this.completeGrant(instance, grant);
    }
    throw new StorageError(StorageErrorCode.NOT_FOUND, `nothing was uploaded for ${quoteInput(key)} yet`, { key });
  }

  /**
   * Records the staged object of `pending` (unused until now): redeems the grant, checks the
   * object against it (size, and type where the backend reports it; Azure SAS URLs bind
   * neither), hashes it while moving it to its key (with the grant's md5 and expiry), and records
   * it. The staged object is removed whatever the outcome; when there is none yet, the grant is
   * released and `E_NOT_FOUND` thrown.
   */
  async completeGrant(instance: StorageInstance, pending: UploadGrantEntity): Promise<FileRecord> {
    return this.completeRedeemed(instance, await this.grants.redeem(pending.nonce, instance.name, pending.name, true));
  }

  /** `completeGrant` of a grant already redeemed by the caller (a multipart completion). */
  async completeRedeemed(instance: StorageInstance, grant: UploadGrantEntity): Promise<FileRecord> {
    const key = grant.name;
    const staged = grant.stagingKey as string;
    let stat: ObjectStat;
    try {
      stat = await instance.driver.stat(staged);
    } catch (err) {
      await this.grants.release(grant);
      if (isStorageError(err, StorageErrorCode.NOT_FOUND)) {
        throw new StorageError(StorageErrorCode.NOT_FOUND, `nothing was uploaded for ${quoteInput(key)} yet`, { key });
      }
      throw err;
    }
    try {
      if (stat.size > grant.maxSize) throw StorageError.tooLarge(grant.maxSize);
      if (stat.contentType !== undefined && stat.contentType !== grant.contentType) {
        throw refused(
          `the upload's Content-Type was ${quoteInput(stat.contentType)}, not ${quoteInput(grant.contentType)} as signed`,
        );
      }
      return await this.storage.uploadStream({
        file: key,
        body: await instance.driver.get(staged),
        storage: instance.name,
        contentType: grant.contentType,
        size: stat.size,
        maxSize: grant.maxSize,
        ...recordFields(grant),
      });
    } finally {
      await instance.driver.delete(staged).catch((err) => this.logger.warn(`removing staged '${staged}': ${err}`));
    }
  }

  /**
   * Direct uploads record themselves: a read of `file` that found no live record calls this, and
   * the newest open staged grant of that key whose object has arrived is recorded (by anyone's
   * grant: the grant carries its user). True when a record was made; a staged object that breaks
   * its grant's bounds is removed and logged, and the read stays a 404.
   */
  async completeOnAccess(file: string, storage: string | undefined): Promise<boolean> {
    const instance = this.registry.get(storage);
    if (!instance.driver.signUpload) return false;
    const open = await this.grants.openStaged(instance.name, normalizeKey(file));
    for (const grant of open) {
      if (await this.settleIfArrived(instance, grant)) return true;
    }
    return false;
  }

  /**
   * The sweep's half of "direct uploads record themselves": every open staged grant (a batch at a
   * time) whose object has arrived is recorded. Returns how many were.
   */
  async completeArrived(storage?: string): Promise<number> {
    let recorded = 0;
    for (const grant of await this.grants.openStaged(storage)) {
      if (!this.registry.names().includes(grant.storeFullName)) continue;
      if (await this.settleIfArrived(this.registry.get(grant.storeFullName), grant)) recorded += 1;
    }
    return recorded;
  }

  /** Records `grant` when its staged object exists; false when it does not, or recording failed. */
  private async settleIfArrived(instance: StorageInstance, grant: UploadGrantEntity): Promise<boolean> {
    const staged = grant.stagingKey as string;
    try {
      if (!(await instance.driver.exists(staged))) return false;
      await this.completeGrant(instance, grant);
      return true;
    } catch (err) {
      // Another completion redeemed it first, or the object broke the grant's bounds (removed).
      this.logger.warn(`recording the staged upload of '${grant.name}' in ${instance.name}: ${String(err)}`);
      return false;
    }
  }
}

/** The record fields a grant carries: its signer, md5 and expiry. */
export function recordFields(grant: UploadGrantEntity): { user?: string; md5?: string; expires?: number } {
  return {
    user: grant.uploadUser ?? undefined,
    md5: grant.md5 ?? undefined,
    expires: grant.fileExpires ?? undefined,
  };
}
