import { createHash, type Hash } from 'node:crypto';

/** The algorithms of tus's checksum extension this service speaks (`Tus-Checksum-Algorithm`). */
export const CHECKSUM_ALGORITHMS = ['sha1', 'sha256', 'md5'] as const;

export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

/** A PATCH's `Upload-Checksum`: the algorithm and the base64 digest the body must have. */
export interface UploadChecksum {
  algorithm: ChecksumAlgorithm;
  digest: string;
}

/**
 * `Upload-Checksum: <algorithm> <base64 digest>` (tus 1.0.0, checksum extension): `absent` without
 * the header, `unsupported` for an algorithm not in `CHECKSUM_ALGORITHMS` (the server answers 400),
 * `malformed` for anything else that is not one name, one space and a base64 value of the
 * algorithm's digest length.
 */
export function parseUploadChecksum(
  header: string | undefined,
): { outcome: 'absent' | 'unsupported' | 'malformed' } | { outcome: 'ok'; checksum: UploadChecksum } {
  if (header === undefined) return { outcome: 'absent' };
  const match = /^([A-Za-z0-9-]+) ([A-Za-z0-9+/]+={0,2})$/.exec(header.trim());
  if (!match) return { outcome: 'malformed' };
  const algorithm = match[1].toLowerCase();
  if (!(CHECKSUM_ALGORITHMS as readonly string[]).includes(algorithm)) return { outcome: 'unsupported' };
  const bytes = Buffer.from(match[2], 'base64');
  const expected = createHash(algorithm).digest().length;
  if (bytes.length !== expected || bytes.toString('base64') !== match[2]) return { outcome: 'malformed' };
  return { outcome: 'ok', checksum: { algorithm: algorithm as ChecksumAlgorithm, digest: match[2] } };
}

/** A running hash of `algorithm`, or none. */
export function checksumHash(algorithm: ChecksumAlgorithm | undefined): Hash | undefined {
  return algorithm ? createHash(algorithm) : undefined;
}
