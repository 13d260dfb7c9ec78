import { createHmac, timingSafeEqual } from 'node:crypto';

/** What a signed upload URL allows: one PUT of at most `maxSize` bytes of `contentType` to `key`. */
export interface UploadPermit {
  storage: string;
  key: string;
  contentType: string;
  maxSize: number;
  /** Epoch seconds after which the URL is refused. */
  expires: number;
  /** Random, single-use: the grant row that makes the URL usable once. */
  nonce: string;
}

/** The URL's query parameters, by permit field. */
export const PERMIT_PARAMS = {
  storage: 'storage',
  contentType: 'type',
  maxSize: 'max',
  expires: 'exp',
  nonce: 'nonce',
  signature: 'sig',
} as const;

/** What a signed download URL allows: reading `key` of `storage` (GET, HEAD) until `expires`, any number of times. */
export interface DownloadPermit {
  storage: string;
  key: string;
  /** Epoch seconds after which the URL is refused. */
  expires: number;
}

const VERSION = 'storage-upload-v1';
const DOWNLOAD_VERSION = 'storage-download-v1';
const SIGNATURE = /^[A-Za-z0-9_-]{43}$/;

/**
 * HMAC-SHA256 signatures for upload permits. The signed text is a JSON array of every bound
 * field in a fixed order (no delimiter a value could fake), under a version tag; signatures are
 * base64url and compared in constant time.
 */
export class UploadSigner {
  constructor(private readonly secret: string) {
    if (Buffer.byteLength(secret) < 16) throw new Error('the signing secret must be at least 16 bytes');
  }

  sign(permit: UploadPermit): string {
    return createHmac('sha256', this.secret).update(canonical(permit)).digest('base64url');
  }

  /**
   * True when `signature` is this secret's signature of exactly `permit`. The text is compared,
   * not the decoded bytes: base64 decoders ignore the spare low bits of the last character, so
   * byte comparison would accept several spellings of one signature.
   */
  verify(permit: UploadPermit, signature: string): boolean {
    return this.matches(this.sign(permit), signature);
  }

  /** A download permit's signature: another version tag and method, so no upload signature fits it. */
  signDownload(permit: DownloadPermit): string {
    const text = JSON.stringify([DOWNLOAD_VERSION, 'GET', permit.storage, permit.key, permit.expires]);
    return createHmac('sha256', this.secret).update(text).digest('base64url');
  }

  /** True when `signature` is this secret's signature of exactly the download `permit`. */
  verifyDownload(permit: DownloadPermit, signature: string): boolean {
    return this.matches(this.signDownload(permit), signature);
  }

  /** The query string of a download permit and its signature. */
  downloadQuery(permit: DownloadPermit): string {
    return new URLSearchParams({
      [PERMIT_PARAMS.storage]: permit.storage,
      [PERMIT_PARAMS.expires]: String(permit.expires),
      [PERMIT_PARAMS.signature]: this.signDownload(permit),
    }).toString();
  }

  private matches(expectedSignature: string, signature: string): boolean {
    if (!SIGNATURE.test(signature)) return false;
    const expected = Buffer.from(expectedSignature, 'ascii');
    const given = Buffer.from(signature, 'ascii');
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  /** The query string of a permit and its signature. */
  query(permit: UploadPermit): string {
    const params = new URLSearchParams({
      [PERMIT_PARAMS.storage]: permit.storage,
      [PERMIT_PARAMS.contentType]: permit.contentType,
      [PERMIT_PARAMS.maxSize]: String(permit.maxSize),
      [PERMIT_PARAMS.expires]: String(permit.expires),
      [PERMIT_PARAMS.nonce]: permit.nonce,
      [PERMIT_PARAMS.signature]: this.sign(permit),
    });
    return params.toString();
  }
}

/**
 * The permit and signature a request's query carries for `key`, or null when a parameter is
 * missing, repeated or malformed (the caller answers 403 either way).
 */
export function permitFromQuery(
  key: string,
  query: Record<string, unknown>,
): { permit: UploadPermit; signature: string } | null {
  const text = (name: string) => (typeof query[name] === 'string' ? (query[name] as string) : null);
  const [storage, contentType, max, exp, nonce, signature] = [
    PERMIT_PARAMS.storage,
    PERMIT_PARAMS.contentType,
    PERMIT_PARAMS.maxSize,
    PERMIT_PARAMS.expires,
    PERMIT_PARAMS.nonce,
    PERMIT_PARAMS.signature,
  ].map(text);
  if (!storage || !contentType || !max || !exp || !nonce || !signature) return null;
  if (!/^\d{1,16}$/.test(max) || !/^\d{1,12}$/.test(exp)) return null;
  return { permit: { storage, key, contentType, maxSize: Number(max), expires: Number(exp), nonce }, signature };
}

/**
 * The download permit and signature a request's query carries for `key`: null when the query has
 * no signature at all (an ordinary request), `'malformed'` when it has one but a parameter is
 * missing, repeated or malformed.
 */
export function downloadPermitFromQuery(
  key: string,
  query: Record<string, unknown>,
): { permit: DownloadPermit; signature: string } | 'malformed' | null {
  if (query[PERMIT_PARAMS.signature] === undefined) return null;
  const [storage, exp, signature] = [PERMIT_PARAMS.storage, PERMIT_PARAMS.expires, PERMIT_PARAMS.signature].map(
    (name) => (typeof query[name] === 'string' ? (query[name] as string) : null),
  );
  if (!storage || !exp || !signature || !/^\d{1,12}$/.test(exp)) return 'malformed';
  return { permit: { storage, key, expires: Number(exp) }, signature };
}

function canonical(permit: UploadPermit): string {
  return JSON.stringify([
    VERSION,
    'PUT',
    permit.storage,
    permit.key,
    permit.contentType,
    permit.maxSize,
    permit.expires,
    permit.nonce,
  ]);
}
