import { lookup as mimeLookup } from 'mime-types';
import { Readable } from 'node:stream';
import { StorageError } from '../errors/storage.error';
import { normalizeMediaType } from '../keys/media-type';

const DEFAULT_TYPE = 'application/octet-stream';

/** `data` as a stream: a Buffer, bytes or a string become a one-chunk Readable. */
export function toReadable(data: Buffer | Uint8Array | string | Readable): Readable {
  if (data instanceof Readable) return data;
  return Readable.from([typeof data === 'string' ? Buffer.from(data) : Buffer.from(data)]);
}

/**
 * The given media type (checked by `normalizeMediaType`), or one from the name's extension, or
 * `application/octet-stream`.
 */
export function pickContentType(given: string | undefined, name: string): string {
  if (given !== undefined && given !== null && (typeof given !== 'string' || given.trim() !== '')) {
    const type = normalizeMediaType(given);
    if (type !== DEFAULT_TYPE) return type;
  }
  return mimeLookup(name) || DEFAULT_TYPE;
}

/** `expires` seconds as a whole number, or null for a permanent file. */
export function parseExpires(value: unknown): number | null {
  if (value === undefined || value === null || value === '') return null;
  const seconds = Number(value);
  if (!Number.isInteger(seconds) || seconds <= 0 || seconds > 100 * 365 * 86400) {
    throw StorageError.invalidArgument('expires must be a whole number of seconds greater than 0');
  }
  return seconds;
}
