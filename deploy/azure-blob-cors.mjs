// Sets the Blob service's CORS rules (Set Blob Service Properties) so that pages on CORS_ORIGINS
// may PUT signed uploads and blocks straight to the account and read the answers. Node only, no
// SDK: a SharedKey-signed REST call, so it runs in the Azurite image itself (docker-compose's
// azurite-setup) or anywhere with Node 20+. Reads AZURE_STORAGE_CONNECTION_STRING (with AccountKey
// and BlobEndpoint) and CORS_ORIGINS (comma-separated, or `*`). Exits non-zero when refused.
import { createHmac } from 'node:crypto';

const fields = Object.fromEntries(
  (process.env.AZURE_STORAGE_CONNECTION_STRING ?? '')
    .split(';')
    .filter(Boolean)
    .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
);
const { AccountName: account, AccountKey: key, BlobEndpoint: endpoint } = fields;
if (!account || !key || !endpoint) {
  console.error('AZURE_STORAGE_CONNECTION_STRING needs AccountName, AccountKey and BlobEndpoint');
  process.exit(2);
}
const origins = (process.env.CORS_ORIGINS || 'http://localhost:3000,http://localhost:8080')
  .split(',')
  .map((o) => o.trim())
  .filter(Boolean)
  .join(',');

// Browsers PUT blobs and blocks (x-ms-* headers, Content-Type) and read ETag from the answers.
const body =
  '<?xml version="1.0" encoding="utf-8"?><StorageServiceProperties><Cors><CorsRule>' +
  `<AllowedOrigins>${origins}</AllowedOrigins>` +
  '<AllowedMethods>GET,HEAD,PUT,OPTIONS</AllowedMethods>' +
  '<AllowedHeaders>content-type,content-length,x-ms-*</AllowedHeaders>' +
  '<ExposedHeaders>etag,content-length,content-range,x-ms-*</ExposedHeaders>' +
  '<MaxAgeInSeconds>600</MaxAgeInSeconds>' +
  '</CorsRule></Cors></StorageServiceProperties>';

const url = new URL(`${endpoint.replace(/\/+$/, '')}/?restype=service&comp=properties`);
const headers = {
  'x-ms-date': new Date().toUTCString(),
  'x-ms-version': '2021-08-06',
  'Content-Type': 'application/xml',
  'Content-Length': String(Buffer.byteLength(body)),
};
// SharedKey: the verb, the standard headers in order, the x-ms- headers, then the resource.
const canonicalHeaders = Object.entries(headers)
  .filter(([name]) => name.startsWith('x-ms-'))
  .sort(([a], [b]) => a.localeCompare(b))
  .map(([name, value]) => `${name}:${value}\n`)
  .join('');
const query = [...url.searchParams.entries()].sort(([a], [b]) => a.localeCompare(b));
const resource = `/${account}${url.pathname}${query.map(([k, v]) => `\n${k}:${v}`).join('')}`;
const toSign = ['PUT', '', '', headers['Content-Length'], '', headers['Content-Type'], '', '', '', '', '', '']
  .join('\n')
  .concat('\n', canonicalHeaders, resource);
const signature = createHmac('sha256', Buffer.from(key, 'base64')).update(toSign, 'utf8').digest('base64');

const res = await fetch(url, {
  method: 'PUT',
  headers: { ...headers, Authorization: `SharedKey ${account}:${signature}` },
  body,
});
if (res.status !== 202) {
  console.error(`setting the Blob service CORS rules failed: ${res.status} ${await res.text()}`);
  process.exit(1);
}
console.log(`Blob service CORS rules set for ${origins}`);
