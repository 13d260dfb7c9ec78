import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * Query parameters that are part of the OSS V1 CanonicalizedResource (the "sub-resources"); every
 * other query parameter (prefix, marker, max-keys, ...) is left out of the signature.
 */
const SUBRESOURCES = new Set([
  'acl', 'uploads', 'location', 'cors', 'logging', 'website', 'referer', 'lifecycle', 'delete', 'append',
  'tagging', 'objectMeta', 'uploadId', 'partNumber', 'security-token', 'position', 'img', 'style', 'styleName',
  'replication', 'replicationProgress', 'replicationLocation', 'cname', 'bucketInfo', 'comp', 'qos', 'live',
  'status', 'vod', 'startTime', 'endTime', 'symlink', 'x-oss-process', 'response-content-type',
  'response-content-language', 'response-expires', 'response-cache-control', 'response-content-disposition',
  'response-content-encoding', 'udf', 'udfName', 'udfImage', 'udfId', 'udfImageDesc', 'udfApplication',
  'udfApplicationLog', 'restore', 'callback', 'callback-var', 'policy', 'stat', 'encryption', 'versions',
  'versioning', 'versionId', 'requestPayment', 'x-oss-request-payer', 'sequential', 'inventory', 'inventoryId',
  'continuation-token', 'asyncFetch', 'worm', 'wormId', 'wormExtend', 'x-oss-traffic-limit',
]); // prettier-ignore

/** Query parameters in order of appearance, decoded (`+` is a literal plus, as OSS reads it). */
export function parseQuery(search: string): Map<string, string> {
  const query = new Map<string, string>();
  for (const pair of search.replace(/^\?/, '').split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const name = decodeURIComponent(eq < 0 ? pair : pair.slice(0, eq));
    query.set(name, eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1)));
  }
  return query;
}

/** `/bucket/key` (raw, not URL-encoded) plus the sorted sub-resources: `?acl&uploadId=x`. */
export function canonicalResource(bucket: string, key: string, query: Map<string, string>): string {
  const subresources = [...query.keys()].filter((name) => SUBRESOURCES.has(name)).sort();
  const params = subresources.map((name) => (query.get(name) ? `${name}=${query.get(name)}` : name));
  return `/${bucket}/${key}${params.length ? `?${params.join('&')}` : ''}`;
}

/** VERB, Content-MD5, Content-Type, Date (or Expires), the x-oss- headers, the resource. */
export function stringToSign(
  method: string,
  headers: IncomingHttpHeaders,
  dateOrExpires: string,
  resource: string,
): string {
  const ossHeaders = Object.keys(headers)
    .filter((name) => name.startsWith('x-oss-'))
    .sort()
    .map((name) => `${name}:${String(headers[name]).trim()}\n`)
    .join('');
  const header = (name: string) => String(headers[name] ?? '');
  return `${method}\n${header('content-md5')}\n${header('content-type')}\n${dateOrExpires}\n${ossHeaders}${resource}`;
}

export function sign(secret: string, text: string): string {
  return createHmac('sha1', secret).update(text, 'utf8').digest('base64');
}

export function signaturesMatch(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}
