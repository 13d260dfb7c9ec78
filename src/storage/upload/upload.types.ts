import type { Readable } from 'node:stream';
import type { StorageInstance } from '../registry/storage-registry';

/** A file object as multer and similar parsers give it. */
export interface UploadedFileLike {
  originalname: string;
  mimetype?: string;
  size?: number;
  buffer?: Buffer;
  path?: string;
  stream?: Readable;
}

/** `uploadByFile`'s parameters, with the spec's names. */
export interface UploadByFileParams {
  /**
   * A file object, or the target path (then `data` is required). A file object is stored at
   * `path` when given, else at a new unique key `uploads/{id}{ext}`: never over another file
   * of the same name.
   */
  file: string | UploadedFileLike;
  /** Where to store a file object (`file` given as an object); ignored with a path. */
  path?: string;
  data?: Buffer | Uint8Array | string | Readable;
  /** Hex md5 of the data: the file is stored as `{md5}{suffix}` and the hash is checked. */
  md5?: string;
  contentType?: string;
  /** Storage instance element name; the default instance when omitted. */
  storage?: string;
  /** Seconds until the file expires. */
  expires?: number;
  /** Recorded as `uploadUser` and `updateUserId`. */
  user?: string;
  /** The client's upload id (`uid`); derived from the file name's md5 when omitted. */
  uid?: string;
  /** The original file name to record, when it differs from the path. */
  fileName?: string;
  /** The declared length, checked against what arrives. */
  size?: number;
  /** A tighter size limit than `maxUploadSize` for this upload (a signed URL's bound). */
  maxSize?: number;
  /**
   * Called with the instance's name and the final key (after md5 naming) before any byte is
   * stored; throw to refuse the upload (the HTTP API checks the caller's token limits here).
   */
  authorize?: (storage: string, key: string) => void;
  signal?: AbortSignal;
}

/** A streamed upload: `body` instead of `data`, `file` a path. */
export interface UploadStreamParams extends Omit<UploadByFileParams, 'file' | 'data' | 'path'> {
  file: string;
  body: Readable;
}

/** What `UploadService.check` decided for an upload, before any byte. */
export interface UploadPlan {
  instance: StorageInstance;
  /** The path as given, normalized. */
  path: string;
  /** Where the record goes: the path, or `{md5}{suffix}`. */
  key: string;
  md5: string | undefined;
  /** Seconds until the file expires, or null. */
  expires: number | null;
  maxBytes: number;
  type: string;
  fileName: string;
}
