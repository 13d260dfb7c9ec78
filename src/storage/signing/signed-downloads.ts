import { Inject, Injectable } from '@nestjs/common';
import type { SignedUrl } from '../drivers/storage-driver';
import { StorageError, StorageErrorCode } from '../errors/storage.error';
import { baseName, normalizeKey } from '../keys/keys';
import { Clock } from '../ledger/clock';
import { SIGNING_DEFAULTS } from '../options/signing.options';
import { InjectStorageOptions, type ResolvedStorageOptions } from '../options/resolved-options';
import { FileRecords } from '../records/file-records';
import type { StorageInstance } from '../registry/storage-registry';
import { bounded, refused, UploadGrants } from './upload-grants';
import { downloadPermitFromQuery } from './upload-signer';

/**
 * Signed download URLs (`getSignUrl` with `method: 'GET'`). A cloud instance gets the backend's
 * presigned GET of the file's current object version (it stays valid for that version only: after
 * an overwrite it serves the old bytes until they are removed, then 404). Local disk (any driver
 * without `signDownload`) gets an HMAC URL to this module's own download route, bound to the key,
 * the instance and the expiry, reusable until then; the guard accepts the same query on preview
 * and thumbnails, which is how a private instance's files are shown without a token.
 */
@Injectable()
export class SignedDownloads {
  constructor(
    @Inject(Clock) private readonly clock: Clock,
    @InjectStorageOptions() private readonly options: ResolvedStorageOptions,
    private readonly records: FileRecords,
    private readonly grants: UploadGrants,
  ) {}

  /** A GET URL for the live file `file`; never valid past the file's own expiry. 404 when absent. */
  async issue(instance: StorageInstance, file: string, options: { expiresIn?: number }): Promise<SignedUrl> {
    const { entity } = await this.records.findLive(file, instance.name);
    const requested = bounded(
      'expiresIn',
      options.expiresIn,
      this.options.signing.ttlSeconds,
      SIGNING_DEFAULTS.maxTtlSeconds,
    );
    const now = this.clock.now();
    const nowSeconds = Math.floor(now / 1000);
    const untilExpiry = entity.expires === null ? Infinity : Math.floor(Number(entity.expires) / 1000) - nowSeconds;
    const seconds = Math.max(1, Math.min(requested, untilExpiry));
    if (instance.driver.signDownload) {
      const fileName = entity.fileName || baseName(entity.name);
      return instance.driver.signDownload(entity.objectKey, { expiresIn: seconds, fileName });
    }
    if (!this.options.http || !this.options.publicBaseUrl) {
      throw new StorageError(
        StorageErrorCode.NOT_IMPLEMENTED,
        `${instance.name} has no signed downloads of its own and the module serves no HTTP API (http: false)`,
      );
    }
    const permit = { storage: instance.name, key: entity.name, expires: nowSeconds + seconds };
    const path = entity.name.split('/').map(encodeURIComponent).join('/');
    return {
      url: `${this.options.publicBaseUrl}/${this.options.routePrefix}/files/${path}?${this.grants.verifier.downloadQuery(permit)}`,
      method: 'GET',
      headers: {},
      expiresAt: permit.expires * 1000,
    };
  }

  /**
   * Whether the query of a read of `path` carries a download signature: false when it carries
   * none; true when it is valid for `path` in `storage` now; `E_SIGNATURE_INVALID` otherwise.
   */
  verify(path: string, storage: string, query: Record<string, unknown>): boolean {
    const parsed = downloadPermitFromQuery(normalizeKey(path), query);
    if (parsed === null) return false;
    if (parsed === 'malformed') throw refused('the URL is not a complete signed download URL');
    const { permit, signature } = parsed;
    if (permit.storage !== storage || !this.grants.verifier.verifyDownload(permit, signature)) {
      throw refused('the signature does not match this file');
    }
    if (permit.expires * 1000 <= this.clock.now()) throw refused('the download URL has expired');
    return true;
  }
}
