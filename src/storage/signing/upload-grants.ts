import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomBytes } from 'node:crypto';
import { IsNull, LessThan, MoreThan, Not, type Repository } from 'typeorm';
import type { SignedUpload } from '../drivers/storage-driver';
import { StorageError, StorageErrorCode } from '../errors/storage.error';
import { assertNotMd5Key, fileSuffix, normalizeKey, STAGING_PREFIX } from '../keys/keys';
import { normalizeMediaType } from '../keys/media-type';
import { ObjectLedger } from '../ledger/object-ledger';
import { StorageRegistry, type StorageInstance } from '../registry/storage-registry';
import { UploadPinEntity } from '../database/entities/upload-pin.entity';
import { SIGNING_DEFAULTS } from '../options/signing.options';
import { UploadGrantEntity } from '../database/entities/upload-grant.entity';
import { UploadSigner, type UploadPermit } from './upload-signer';
import { InjectStorageOptions, type ResolvedStorageOptions } from '../options/resolved-options';
import { Clock } from '../ledger/clock';
import { KeyLocks } from '../ledger/key-locks';

export interface SignOptions {
  /** Recorded as the file's `uploadUser`. */
  user?: string | null;
  /** Largest body allowed, bytes; at most (and by default) `maxUploadSize`. */
  maxSize?: number;
  /** Seconds the URL stays valid; at most 7 days, by default `signing.ttlSeconds`. */
  expiresIn?: number;
}

/** Grants settled per `sweepStaging` run; the next run (seconds later) takes the rest. */
const SWEEP_BATCH = 500;

/**
 * Issues and redeems upload grants. Local disk gets an HMAC-signed URL to the service's own
 * `PUT {prefix}/upload/{path}`; an instance whose driver can presign gets the backend's URL to a
 * staging key (`.uploads/{nonce}{suffix}`), completed by `POST {prefix}/sign/complete`. Either
 * way a grant row records the bounds and the user, and is used once.
 */
@Injectable()
export class UploadGrants {
  private readonly logger = new Logger(UploadGrants.name);
  private readonly signer: UploadSigner;

  constructor(
    @Inject(Clock) private readonly clock: Clock,
    private readonly locks: KeyLocks,
    @InjectStorageOptions() private readonly options: ResolvedStorageOptions,
    @InjectRepository(UploadGrantEntity) private readonly grants: Repository<UploadGrantEntity>,
    private readonly objects: ObjectLedger,
    private readonly registry: StorageRegistry,
    @InjectRepository(UploadPinEntity) private readonly pins: Repository<UploadPinEntity>,
  ) {
    let secret = options.signing.secret;
    if (!secret) {
      secret = randomBytes(32).toString('base64url');
      this.logger.warn('no signing secret configured: signed upload URLs will not survive a restart');
    }
    this.signer = new UploadSigner(secret);
  }

  get verifier(): UploadSigner {
    return this.signer;
  }

  async issue(
    instance: StorageInstance,
    file: string,
    contentType: string,
    options: SignOptions,
  ): Promise<SignedUpload> {
    const key = normalizeKey(file);
    // A signed upload carries no md5, so it may not write a content-addressed name.
    assertNotMd5Key(key);
    const type = normalizeMediaType(contentType);
    const limit = this.options.maxUploadSize;
    const maxSize = bounded('maxSize', options.maxSize, limit, limit);
    const ttl = this.options.signing.ttlSeconds;
    const expiresIn = bounded('expiresIn', options.expiresIn, ttl, SIGNING_DEFAULTS.maxTtlSeconds);
    const now = this.clock.now();
    const expires = Math.floor(now / 1000) + expiresIn;
    const nonce = randomBytes(16).toString('base64url');
    const stagingKey = instance.driver.signUpload ? `${STAGING_PREFIX}/${nonce}${fileSuffix(key)}` : null;
    const signed = stagingKey
      ? await instance.driver.signUpload!(stagingKey, { contentType: type, expiresIn, maxSize })
      : this.localUrl({ storage: instance.name, key, contentType: type, maxSize, expires, nonce });
    const grant = this.grants.create({
      nonce,
      keyHash: this.objects.ref(instance.name, key).keyHash,
      storeFullName: instance.name,
      name: key,
      stagingKey,
      contentType: type,
      maxSize,
      uploadUser: options.user ?? null,
      expiresAt: stagingKey ? signed.expiresAt : expires * 1000,
      usedAt: null,
      createdAt: now,
    });
    await this.locks.exclusive(() => this.grants.insert(grant));
    return signed;
  }

  /**
   * Marks the grant `nonce` used, if it is unused, unexpired and for `key` in `storage`: the
   * one step that makes a URL single-use (two PUTs at once: one wins). `E_SIGNATURE_INVALID`
   * otherwise.
   */
  async redeem(nonce: string, storage: string, key: string, staged: boolean): Promise<UploadGrantEntity> {
    const now = this.clock.now();
    const keyHash = this.objects.ref(storage, key).keyHash;
    const grant = await this.grants.findOne({ where: { nonce, keyHash, storeFullName: storage } });
    if (!grant || grant.name !== key || (grant.stagingKey !== null) !== staged)
      throw refused('the upload grant is unknown');
    if (!staged && grant.expiresAt <= now) throw refused('the upload URL has expired');
    const claimed = await this.locks.exclusive(() => this.grants.update({ nonce, usedAt: IsNull() }, { usedAt: now }));
    if (!claimed.affected) throw refused('the upload URL was already used');
    return { ...grant, usedAt: now };
  }

  /** Makes a redeemed grant usable again (its upload failed before storing anything). */
  async release(grant: UploadGrantEntity): Promise<void> {
    await this.locks.exclusive(() => this.grants.update({ nonce: grant.nonce }, { usedAt: null }));
  }

  /** The newest unused staged grant of `key` by `user`: what `complete` finishes. */
  async pendingStaged(storage: string, key: string, user: string | null): Promise<UploadGrantEntity | null> {
    const found = await this.grants.find({
      where: {
        keyHash: this.objects.ref(storage, key).keyHash,
        storeFullName: storage,
        usedAt: IsNull(),
        uploadUser: user ?? IsNull(),
        expiresAt: MoreThan(this.clock.now() - this.options.lifecycle.stagingGraceSeconds * 1000),
      },
      order: { createdAt: 'DESC' },
    });
    return found.find((g) => g.stagingKey !== null && g.name === key) ?? null;
  }

  /**
   * Staged objects (`.uploads/…`) whose grant is spent: its URL expired more than
   * `stagingGraceSeconds` ago, so nothing can arrive through it any more and `complete` refuses it.
   * An unused grant is dropped first (conditionally: a `complete` that redeemed it meanwhile keeps
   * it), then its object; a used one (its `complete` removed the object, but the URL stayed usable
   * until it expired) has its object removed again, unless an upload to its key is in flight (that
   * may be its own `complete`, still copying), then its row. A failed removal of a used grant's
   * object leaves the row for the next run; of an unused one's, the object for the reconciler (past
   * the orphan grace). Returns the number of grants settled.
   */
  async sweepStaging(storage?: string): Promise<number> {
    const spentBefore = this.clock.now() - this.options.lifecycle.stagingGraceSeconds * 1000;
    const known = this.registry.names();
    const rows = await this.grants.find({
      where: {
        stagingKey: Not(IsNull()),
        expiresAt: LessThan(spentBefore),
        ...(storage ? { storeFullName: storage } : {}),
      },
      order: { expiresAt: 'ASC' },
      take: SWEEP_BATCH,
    });
    let settled = 0;
    for (const grant of rows) {
      if (!known.includes(grant.storeFullName)) continue;
      const driver = this.registry.get(grant.storeFullName).driver;
      const staged = grant.stagingKey as string;
      try {
        if (grant.usedAt === null) {
          const dropped = await this.locks.exclusive(() =>
            this.grants.delete({ nonce: grant.nonce, usedAt: IsNull() }),
          );
          if (!dropped.affected) continue;
          await driver.delete(staged);
        } else {
          if (await this.pins.exists({ where: { keyHash: grant.keyHash } })) continue;
          await driver.delete(staged);
          await this.locks.exclusive(() => this.grants.delete({ nonce: grant.nonce }));
        }
        settled += 1;
      } catch (err) {
        this.logger.warn(`removing staged '${staged}' of ${grant.storeFullName}: ${String(err)}`);
      }
    }
    return settled;
  }

  /** A URL to this module's `PUT {prefix}/upload/{path}`: only while it serves its HTTP API. */
  private localUrl(permit: UploadPermit): SignedUpload {
    if (!this.options.http || !this.options.publicBaseUrl) {
      throw new StorageError(
        StorageErrorCode.NOT_IMPLEMENTED,
        `${permit.storage} has no signed uploads of its own and the module serves no HTTP API (http: false)`,
      );
    }
    const base = this.options.publicBaseUrl;
    const path = permit.key.split('/').map(encodeURIComponent).join('/');
    return {
      url: `${base}/${this.options.routePrefix}/upload/${path}?${this.signer.query(permit)}`,
      method: 'PUT',
      headers: { 'Content-Type': permit.contentType },
      expiresAt: permit.expires * 1000,
    };
  }
}

/** The 403 every refused signed upload gets: what was wrong, nothing about the secret. */
export function refused(reason: string): StorageError {
  return new StorageError(StorageErrorCode.SIGNATURE_INVALID, `${reason}; ask for a new signed URL`);
}

/** `value` as a whole number from 1 to `max`, `fallback` when absent; else `E_INVALID_ARGUMENT`. */
export function bounded(field: string, value: unknown, fallback: number, max: number): number {
  if (value === undefined || value === null || value === '') return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1 || n > max) {
    throw StorageError.invalidArgument(`${field} must be a whole number from 1 to ${max}`);
  }
  return n;
}
