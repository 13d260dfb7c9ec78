import { StorageError } from '../errors/storage.error';

/** The upload options a request may carry, as multipart fields or query parameters. */
export interface UploadFields {
  name?: string;
  md5?: string;
  contentType?: string;
  storage?: string;
  expires?: number;
  uid?: string;
}

export const UPLOAD_FIELD_NAMES = ['name', 'md5', 'contentType', 'storage', 'expires', 'uid'] as const;

/** Picks and type-checks the upload fields; a repeated or non-string field is a 400. */
export function uploadFields(source: Record<string, unknown>): UploadFields {
  const out: Record<string, string> = {};
  for (const field of UPLOAD_FIELD_NAMES) {
    const value = source[field];
    if (value === undefined || value === '') continue;
    if (typeof value !== 'string') throw StorageError.invalidArgument(`'${field}' must be given once, as text`);
    out[field] = value;
  }
  const { expires, ...rest } = out;
  return { ...rest, ...(expires !== undefined ? { expires: Number(expires) } : {}) };
}
