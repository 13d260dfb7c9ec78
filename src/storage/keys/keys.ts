import { createHash, randomBytes } from 'node:crypto';
import { StorageError } from '../errors/storage.error';

/** S3's limit, and a sane one everywhere: 1024 bytes of UTF-8 for a whole key. */
export const MAX_KEY_BYTES = 1024;
/** Most filesystems stop at 255 bytes per name. */
export const MAX_SEGMENT_BYTES = 255;
/** First segment of the keys the service derives (thumbnails); no user key may start with it. */
export const RESERVED_PREFIX = '.thumbnails';
/** First segment of direct uploads staged in a cloud bucket until they are completed; reserved too. */
export const STAGING_PREFIX = '.uploads';
/**
 * Marks names the service makes inside a user's folders: object versions (`.~v`) and the local
 * driver's temp files (`.~tmp.`). No segment of a user key may contain it.
 */
export const INTERNAL_MARK = '.~';
const VERSION_MARK = `${INTERNAL_MARK}v`;

// C0 and C1 controls, DEL, and the Unicode line/paragraph separators and bidi overrides that can
// disguise a name in logs and headers.
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/**
 * Turns a user-supplied path into a storage key, or throws `E_INVALID_PATH`. A key is relative,
 * `/`-separated, NFC-normalised, has no empty, `.` or `..` segment, no backslash, no control
 * character, and fits the length limits. Nothing is silently rewritten beyond NFC: a path that
 * is not already a clean key is refused, so the caller always knows which key was used.
 */
export function normalizeKey(input: unknown): string {
  if (typeof input !== 'string' || input.length === 0) {
    throw StorageError.invalidPath('a file path is required');
  }
  if (!isWellFormed(input)) throw StorageError.invalidPath('the path is not well-formed Unicode (a lone surrogate)');
  const key = input.normalize('NFC');
  if (FORBIDDEN.test(key)) throw StorageError.invalidPath('control characters are not allowed');
  if (key.includes('\\')) throw StorageError.invalidPath("use '/' as the separator, not '\\'");
  if (key.startsWith('/')) throw StorageError.invalidPath('the path must be relative');
  if (/^[a-zA-Z]:/.test(key)) throw StorageError.invalidPath('drive letters are not allowed');
  // Case-insensitively: on a case-insensitive disk '.Thumbnails/x' is the same folder.
  if (key.split('/')[0].toLowerCase() === RESERVED_PREFIX) {
    throw StorageError.invalidPath(`'${RESERVED_PREFIX}/' is reserved for derived images`);
  }
  if (key.split('/')[0].toLowerCase() === STAGING_PREFIX) {
    throw StorageError.invalidPath(`'${STAGING_PREFIX}/' is reserved for direct uploads in progress`);
  }
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) {
    throw StorageError.invalidPath(`the path is longer than ${MAX_KEY_BYTES} bytes`);
  }
  for (const segment of key.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') {
      throw StorageError.invalidPath("empty, '.' and '..' segments are not allowed");
    }
    if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES) {
      throw StorageError.invalidPath(`a path segment is longer than ${MAX_SEGMENT_BYTES} bytes`);
    }
    if (segment.trim() !== segment) {
      throw StorageError.invalidPath('path segments may not start or end with white space');
    }
    if (segment.includes(INTERNAL_MARK)) {
      throw StorageError.invalidPath(`'${INTERNAL_MARK}' is reserved for names the service makes`);
    }
  }
  return key;
}

/** A key prefix for listing: empty, or a clean key optionally ending in `/`. */
export function normalizePrefix(input: unknown): string {
  if (input === undefined || input === null || input === '') return '';
  if (typeof input !== 'string') throw StorageError.invalidPath('prefix must be a string');
  const trailing = input.endsWith('/');
  const key = normalizeKey(trailing ? input.slice(0, -1) : input);
  return trailing ? `${key}/` : key;
}

/** The suffix the spec keeps on md5-named files: `.pdf` of `a/b/report.PDF` is `.pdf`. */
export function fileSuffix(key: string): string {
  const base = key.slice(key.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  if (dot <= 0 || dot === base.length - 1) return '';
  const suffix = base.slice(dot).toLowerCase();
  return /^\.[a-z0-9]{1,16}$/.test(suffix) ? suffix : '';
}

/** Whether `text` is well-formed UTF-16: no lone surrogate, so that it has a UTF-8 form. */
export function isWellFormed(text: string): boolean {
  return !/\p{Cs}/u.test(text);
}

// C0 controls, DEL and C1 controls: what a file name loses.
// eslint-disable-next-line no-control-regex
const NAME_CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;

/**
 * A user's original file name as the record keeps it (`fileName`): NFC, without control
 * characters (C0, DEL, C1; letters of every script are kept); `fallback` when nothing is left.
 * A name that is not well-formed Unicode is `E_INVALID_ARGUMENT`.
 */
export function normalizeFileName(name: unknown, fallback: string): string {
  if (typeof name !== 'string') throw StorageError.invalidArgument('fileName must be text');
  if (!isWellFormed(name)) throw StorageError.invalidArgument('fileName is not well-formed Unicode (a lone surrogate)');
  const clean = name.replace(NAME_CONTROLS, '').normalize('NFC').trim();
  return clean || fallback;
}

/**
 * The namespace of content-addressed keys: `{md5}` or `{md5}.{ext}` at the root, lower-case hex.
 * Only uploads with `md5` (checked against the bytes) may write there, so that a name of this
 * shape always holds the bytes it names.
 */
export const MD5_KEY = /^[0-9a-f]{32}(\.[^/]+)?$/;

/** Refuses `key` when it is in the md5 namespace (`MD5_KEY`): for uploads without md5. */
export function assertNotMd5Key(key: string): void {
  if (MD5_KEY.test(key)) {
    throw StorageError.invalidArgument(
      "names of the form {md5}.ext at the root are reserved for uploads with md5: pass md5 (the content's hash), or choose another name",
    );
  }
}

export const MD5_HEX = /^[a-f0-9]{32}$/;

export function normalizeMd5(input: unknown): string {
  if (typeof input !== 'string' || !MD5_HEX.test(input.toLowerCase())) {
    throw StorageError.invalidArgument('md5 must be 32 hexadecimal characters');
  }
  return input.toLowerCase();
}

export function md5Hex(value: string): string {
  return createHash('md5').update(value, 'utf8').digest('hex');
}

/** The display name of a key: its last segment. */
export function baseName(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}

/**
 * A new, never-used object key for one version of the plain file `key`: beside it, with the
 * version marked before the extension, `docs/report.pdf` -> `docs/report.~v{id}.pdf`. The id
 * is time-ordered and random, so versions sort by age and two writers never share a key. The
 * stem is shortened where the name would pass a length limit; a folder too long to hold any
 * version name puts the version at the root.
 */
export function versionKey(key: string, now = Date.now()): string {
  const id = `${now.toString(36)}${randomBytes(5).toString('hex')}`;
  const slash = key.lastIndexOf('/');
  const dir = key.slice(0, slash + 1);
  const base = key.slice(slash + 1);
  const dot = base.lastIndexOf('.');
  const ext = dot > 0 && /^\.[A-Za-z0-9]{1,16}$/.test(base.slice(dot)) ? base.slice(dot) : '';
  let stem = [...base.slice(0, base.length - ext.length)];
  const tail = `${VERSION_MARK}${id}${ext}`;
  const fits = (name: string) =>
    Buffer.byteLength(name) <= MAX_SEGMENT_BYTES && Buffer.byteLength(dir + name) <= MAX_KEY_BYTES;
  while (stem.length > 0 && !fits(stem.join('') + tail)) stem = stem.slice(0, -1);
  return fits(stem.join('') + tail) ? `${dir}${stem.join('')}${tail}` : tail;
}

/** The folder of the keys `uniqueUploadKey` makes. */
export const UNIQUE_UPLOADS_FOLDER = 'uploads';

/**
 * A key no other upload has, for a file whose caller named no path: `uploads/{id}{ext}`, the id
 * time-ordered (base 36 milliseconds) and 64 random bits, the extension the original name's
 * (lower-case) so that the type is still told by the key. The original name stays the record's
 * `fileName`, and downloads use it.
 */
export function uniqueUploadKey(originalName: string, now = Date.now()): string {
  return `${UNIQUE_UPLOADS_FOLDER}/${now.toString(36)}${randomBytes(8).toString('hex')}${fileSuffix(originalName)}`;
}

/** Whether `key` is an object version `versionKey` made. */
export function isVersionKey(key: string): boolean {
  return key.slice(key.lastIndexOf('/') + 1).includes(VERSION_MARK);
}
