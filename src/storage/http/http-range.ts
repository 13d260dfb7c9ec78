import type { ByteRange } from '../drivers/storage-driver';

/**
 * Reads a `Range` header against a size (RFC 9110 14.1.2, 14.2). Returns the one range to serve,
 * 'unsatisfiable' (416: it starts at or past the end, or is a zero-length suffix), or null to
 * serve the whole body (no header, a malformed one, another unit, a last byte before the first,
 * or several ranges: ignoring `Range` and answering 200 is always allowed).
 */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | null {
  if (!header) return null;
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!match) return null;
  const [, first, last] = match;
  if (first === '' && last === '') return null;
  if (first === '') {
    const suffix = Number(last);
    if (!Number.isSafeInteger(suffix)) return null;
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? Number.MAX_SAFE_INTEGER : Number(last);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return null;
  if (start >= size) return 'unsatisfiable';
  return { start, end: Math.min(end, size - 1) };
}
