import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * Checks a SigV4 presigned URL (`X-Amz-Algorithm` in the query) as S3 does, written from AWS's
 * "Authenticating Requests: Using Query Parameters" page rather than with an SDK's signer, so it
 * does not share a signer's mistakes. s3rver checks V2 signatures only and lets any V4 signature
 * through; this makes the test peer refuse what S3 and MinIO refuse, a URL whose host, path,
 * query or signed headers differ from what was signed.
 */

export interface PresignedRequest {
  method: string;
  /** The request target as sent: raw path and query. */
  url: string;
  headers: IncomingHttpHeaders;
}

/** Why the request is refused (S3's error code and message), or null when the signature holds. */
export function checkPresignedV4(
  request: PresignedRequest,
  secretOf: (accessKeyId: string) => string | undefined,
): { code: string; message: string } | null {
  const [rawPath, rawQuery = ''] = request.url.split(/\?(.*)/s);
  const query = parseRawQuery(rawQuery);
  const credential = query.get('X-Amz-Credential') ?? '';
  const [accessKeyId, ...scopeParts] = credential.split('/');
  const date = query.get('X-Amz-Date') ?? '';
  const signedHeaders = query.get('X-Amz-SignedHeaders') ?? '';
  const given = query.get('X-Amz-Signature') ?? '';
  const secret = secretOf(accessKeyId);
  if (secret === undefined) {
    return { code: 'InvalidAccessKeyId', message: 'The AWS Access Key Id you provided does not exist in our records.' };
  }
  if (scopeParts.length !== 4 || !signedHeaders.split(';').includes('host')) {
    return {
      code: 'AuthorizationQueryParametersError',
      message: 'X-Amz-Credential or X-Amz-SignedHeaders is malformed.',
    };
  }
  const canonicalRequest = [
    request.method,
    canonicalPath(rawPath),
    canonicalQuery(query),
    ...signedHeaders.split(';').map((name) => `${name}:${headerValue(request.headers, name)}`),
    '',
    signedHeaders,
    query.get('X-Amz-Content-Sha256') ?? 'UNSIGNED-PAYLOAD',
  ].join('\n');
  const scope = scopeParts.join('/');
  const stringToSign = ['AWS4-HMAC-SHA256', date, scope, sha256Hex(canonicalRequest)].join('\n');
  const [day, region, service, terminator] = scopeParts;
  let key = hmac(`AWS4${secret}`, day);
  for (const part of [region, service, terminator]) key = hmac(key, part);
  const expected = createHmac('sha256', key).update(stringToSign).digest('hex');
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  if (a.length === b.length && timingSafeEqual(a, b)) return null;
  return {
    code: 'SignatureDoesNotMatch',
    message: 'The request signature we calculated does not match the signature you provided.',
  };
}

/** The query's parameters, names and values percent-decoded (`+` stays a plus, as S3 reads it). */
function parseRawQuery(raw: string): Map<string, string> {
  const query = new Map<string, string>();
  for (const pair of raw.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    query.set(
      decodeURIComponent(eq < 0 ? pair : pair.slice(0, eq)),
      eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1)),
    );
  }
  return query;
}

/** RFC 3986 percent-encoding: everything but A-Z a-z 0-9 - _ . ~ */
function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** S3 does not normalise the path: each segment is decoded and encoded once. */
function canonicalPath(rawPath: string): string {
  return rawPath
    .split('/')
    .map((segment) => uriEncode(decodeURIComponent(segment)))
    .join('/');
}

/** Every parameter but the signature, encoded, sorted by name then value. */
function canonicalQuery(query: Map<string, string>): string {
  return [...query]
    .filter(([name]) => name !== 'X-Amz-Signature')
    .map(([name, value]) => [uriEncode(name), uriEncode(value)])
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

function headerValue(headers: IncomingHttpHeaders, name: string): string {
  const value = headers[name];
  return (Array.isArray(value) ? value.join(',') : (value ?? '')).trim().replace(/\s+/g, ' ');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
