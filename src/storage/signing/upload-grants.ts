import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomBytes } from 'node:crypto';
import { IsNull, LessThan, MoreThan, Not, type Repository } from 'typeorm';
import type { SignedUpload } from '../drivers/storage-driver';
import { StorageError, StorageErrorCode } from '../errors/storage.error';
import { assertNotMd5Key, fileSuffix, normalizeKey, STAGING_PREFIX } from '../keys/keys';
import { normalizeMediaType } from '../keys/media-type';
import { parseExpires } from '../upload/upload-input';
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
  /** Hex md5 of the bytes: the record is content-addressed (`{md5}{suffix}`) and the bytes checked. */
  md5?: string;
  /** Seconds until the recorded file expires. */
  expires?: number;
}

/** A grant about to be recorded: its row, and the bounds its URL is signed with. */
interface DraftGrant {
  grant: UploadGrantEntity;
  expiresIn: number;
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
    const staged = instance.driver.signUpload !== undefined;
    const { grant, expiresIn } = this.draft(instance, file, contentType, options, staged);
    const { name: key, stagingKey, maxSize, nonce } = grant;
    const type = grant.contentType;
    const expires = Math.floor(grant.createdAt / 1000) + expiresIn;
    const signed = stagingKey
      ? await instance.driver.signUpload!(stagingKey, { contentType: type, expiresIn, maxSize })
      : this.localUrl({ storage: instance.name, key, contentType: type, maxSize, expires, nonce });
    await this.record({ ...grant, expiresAt: stagingKey ? signed.expiresAt : expires * 1000 });
    return signed;
  }

  /**
   * A grant for a direct multipart upload to `instance` (a cloud driver): the staging key and
   * bounds, recorded with `begin` (which starts the backend's upload and returns its id). Parts
   * may be signed until the grant expires.
   */
  async issueMultipart(
    instance: StorageInstance,
    file: string,
    contentType: string,
    options: SignOptions,
    begin: (stagingKey: string, contentType: string) => Promise<string>,
  ): Promise<{ grant: UploadGrantEntity; uploadId: string }> {
    const { grant, expiresIn } = this.draft(instance, file, contentType, options, true);
    const uploadId = await begin(grant.stagingKey as string, grant.contentType);
    const recorded = { ...grant, expiresAt: grant.createdAt + expiresIn * 1000 };
    await this.record(recorded);
    return { grant: recorded, uploadId };
  }

  /**
   * The unused, unexpired grant `nonce` for `key` in `storage` by `user`: what signing parts and
   * completing or aborting a direct multipart upload act on. `E_SIGNATURE_INVALID` otherwise.
   */
  async open(nonce: string, storage: string, key: string, user: string | null): Promise<UploadGrantEntity> {
    const grant = await this.grants.findOne({
      where: { nonce, keyHash: this.objects.ref(storage, key).keyHash, storeFullName: storage },
    });
    if (!grant || grant.name !== key || grant.stagingKey === null || grant.uploadUser !== user) {
      throw refused('the upload grant is unknown');
    }
    if (grant.usedAt !== null) throw refused('the upload was already completed or aborted');
    if (grant.expiresAt <= this.clock.now()) throw refused('the upload grant has expired');
    return grant;
  }

  /** The grant row for `file` in `instance`, checked and bounded, not yet recorded. */
  private draft(
    instance: StorageInstance,
    file: string,
    contentType: string,
    options: SignOptions,
    staged: boolean,
  ): DraftGrant {
    const key = normalizeKey(file);
    // The path must not be a content-addressed name: only an upload with `md5` writes those.
    assertNotMd5Key(key);
    if (options.md5 !== undefined && !/^[0-9a-f]{32}$/.test(options.md5)) {
      throw StorageError.invalidArgument('md5 must be 32 lower-case hex digits');
    }
    const limit = this.options.maxUploadSize;
    const ttl = this.options.signing.ttlSeconds;
    const nonce = randomBytes(16).toString('base64url');
    const grant = this.grants.create({
      nonce,
      keyHash: this.objects.ref(instance.name, key).keyHash,
      storeFullName: instance.name,
      name: key,
      stagingKey: staged ? `${STAGING_PREFIX}/${nonce}${fileSuffix(key)}` : null,
      contentType: normalizeMediaType(contentType),
      maxSize: bounded('maxSize', options.maxSize, limit, limit),
      uploadUser: options.user ?? null,
      md5: options.md5 ?? null,
      fileExpires: parseExpires(options.expires),
      expiresAt: 0,
      usedAt: null,
      createdAt: this.clock.now(),
    });
    return { grant, expiresIn: bounded('expiresIn', options.expiresIn, ttl, SIGNING_DEFAULTS.maxTtlSeconds) };
  }

  private async record(grant: UploadGrantEntity): Promise<void> {
    await this.locks.exclusive(() => this.grants.insert(grant));
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

  /**
   * Unused staged grants still within their completion window (`stagingGraceSeconds` past
   * expiry), newest first, of `key` when given, else of `storage` (or all), a batch at a time:
   * what the service itself completes once their object has arrived.
   */
  async openStaged(storage?: string, key?: string): Promise<UploadGrantEntity[]> {
    const found = await this.grants.find({
      where: {
        ...(storage ? { storeFullName: storage } : {}),
        ...(storage && key ? { keyHash: this.objects.ref(storage, key).keyHash } : {}),
        stagingKey: Not(IsNull()),
        usedAt: IsNull(),
        expiresAt: MoreThan(this.clock.now() - this.options.lifecycle.stagingGraceSeconds * 1000),
      },
      order: { createdAt: 'DESC' },
      take: SWEEP_BATCH,
    });
    return key === undefined ? found : found.filter((g) => g.name === key);
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
