import { DefaultHttpStack, Upload, type HttpRequest, type HttpStack, type UploadOptions } from 'tus-js-client';
import type { AddressInfo } from 'node:net';
import { rawRequest, type RawResponse } from './raw-http';
import type { TestApp } from './test-app';

/** `Upload-Metadata`: `key base64(value)` pairs, comma-separated (tus 1.0.0). */
export function tusMetadata(fields: Record<string, string>): string {
  return Object.entries(fields)
    .map(([key, value]) => `${key} ${Buffer.from(value).toString('base64')}`)
    .join(',');
}

/** The test app's base URL on its loopback port. */
export function baseUrl(t: TestApp): string {
  return `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
}

/** The file record a completing tus request answers (`Storage-Record`), or null. */
export function storageRecord(res: { headers: Record<string, unknown> }): Record<string, unknown> | null {
  const value = res.headers['storage-record'];
  return typeof value === 'string' ? (JSON.parse(decodeURIComponent(value)) as Record<string, unknown>) : null;
}

/** A tus request (`Tus-Resumable: 1.0.0` and the token unless `headers` overrides them). */
export function tusRequest(
  base: string,
  method: string,
  path: string,
  options: { auth?: string; headers?: Record<string, string>; body?: Buffer } = {},
): Promise<RawResponse> {
  const headers: Record<string, string> = {
    'Tus-Resumable': '1.0.0',
    ...(options.auth ? { Authorization: options.auth } : {}),
  };
  return rawRequest(`${base}${path}`, { method, headers: { ...headers, ...options.headers }, body: options.body });
}

/** Creates an upload of `length` bytes with `metadata`; resolves with the upload's path (from `Location`). */
export async function createTusUpload(
  base: string,
  auth: string,
  length: number,
  metadata: Record<string, string>,
  prefix = '/storage',
): Promise<string> {
  const res = await tusRequest(base, 'POST', `${prefix}/tus`, {
    auth,
    headers: { 'Upload-Length': String(length), 'Upload-Metadata': tusMetadata(metadata) },
  });
  if (res.status !== 201) throw new Error(`creation answered ${res.status}: ${res.body.toString()}`);
  return String(res.headers.location);
}

/**
 * tus-js-client's Node HTTP stack, counting the body bytes the client sends in PATCH requests:
 * what a resumed upload really resends.
 */
export class CountingHttpStack implements HttpStack {
  patchBytes = 0;
  private readonly inner = new DefaultHttpStack({});

  createRequest(method: string, url: string): HttpRequest {
    const request = this.inner.createRequest(method, url);
    const send = request.send.bind(request);
    request.send = (body?: unknown) => {
      if (method === 'PATCH' && body) this.patchBytes += (body as Buffer).length;
      return send(body);
    };
    return request;
  }

  getName(): string {
    return 'counting';
  }
}

/**
 * Uploads `data` with tus-js-client (Node) to `endpoint`; resolves with the file record the last
 * response carried (`Storage-Record`) and the upload's URL.
 */
export function clientUpload(
  endpoint: string,
  auth: string,
  data: Buffer,
  options: Partial<UploadOptions> = {},
): Promise<{ record: Record<string, unknown> | null; url: string }> {
  return new Promise((resolve, reject) => {
    const upload = new Upload(data, {
      endpoint,
      headers: { Authorization: auth },
      retryDelays: [],
      ...options,
      onError: reject,
      onSuccess: ({ lastResponse }) => {
        const header = lastResponse.getHeader('Storage-Record');
        resolve({
          record: header ? (JSON.parse(decodeURIComponent(header)) as Record<string, unknown>) : null,
          url: upload.url ?? '',
        });
      },
    });
    upload.start();
  });
}
