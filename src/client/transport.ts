// HTTP for the browser client: JSON calls to the service, and bodies sent with upload progress
// (XMLHttpRequest where the platform has it, as browsers do; fetch elsewhere, e.g. Node 20).
import type { StorageClientErrorShape } from './types';

/** What every client call rejects with: the service's error code, and the HTTP status when there was one. */
export class StorageClientError extends Error implements StorageClientErrorShape {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number | null = null,
  ) {
    super(message);
    this.name = 'StorageClientError';
  }
}

/** A sent body's answer: status, one header by name, the text. */
export interface SentBody {
  status: number;
  header(name: string): string | null;
  text: string;
}

export interface SendOptions {
  method: string;
  headers: Record<string, string>;
  body: Blob | FormData;
  onProgress?: (sent: number) => void;
  signal?: AbortSignal;
}

/** The part of XMLHttpRequest the client uses (the DOM types are not part of this build). */
interface Xhr {
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  getResponseHeader(name: string): string | null;
  send(body: unknown): void;
  abort(): void;
  status: number;
  responseText: string;
  upload: { onprogress: ((e: { loaded: number }) => void) | null };
  onload: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
}

const aborted = () => new StorageClientError('E_ABORTED', 'the upload was aborted');

/** Sends `body` to `url`; resolves with any HTTP answer, rejects on a network failure or abort. */
export function sendBody(url: string, options: SendOptions, fetchImpl: typeof fetch): Promise<SentBody> {
  const XhrClass = (globalThis as { XMLHttpRequest?: new () => Xhr }).XMLHttpRequest;
  if (!XhrClass) return sendWithFetch(url, options, fetchImpl);
  return new Promise((resolve, reject) => {
    const xhr = new XhrClass();
    xhr.open(options.method, url);
    for (const [name, value] of Object.entries(options.headers)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (e) => options.onProgress?.(e.loaded);
    xhr.onload = () => resolve({ status: xhr.status, header: (n) => xhr.getResponseHeader(n), text: xhr.responseText });
    xhr.onerror = () => reject(new StorageClientError('E_NETWORK', `the upload to ${origin(url)} failed`));
    xhr.onabort = () => reject(aborted());
    if (options.signal?.aborted) return reject(aborted());
    options.signal?.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(options.body);
  });
}

/** fetch reports no upload progress: the whole body counts as sent once it was answered. */
async function sendWithFetch(url: string, options: SendOptions, fetchImpl: typeof fetch): Promise<SentBody> {
  let response: Response;
  try {
    response = await fetchImpl(url, {
      method: options.method,
      headers: options.headers,
      body: options.body,
      signal: options.signal,
    });
  } catch (err) {
    if (options.signal?.aborted) throw aborted();
    throw new StorageClientError('E_NETWORK', `the upload to ${origin(url)} failed: ${String(err)}`);
  }
  const text = await response.text();
  if (response.ok) options.onProgress?.(options.body instanceof Blob ? options.body.size : 0);
  return { status: response.status, header: (n) => response.headers.get(n), text };
}

function origin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'the server';
  }
}

/** The service's JSON error (`{code, message}`) or the status as a `StorageClientError`. */
export function errorOf(status: number, text: string): StorageClientError {
  try {
    const body = JSON.parse(text) as { code?: unknown; message?: unknown };
    if (typeof body.code === 'string') {
      return new StorageClientError(body.code, String(body.message ?? body.code), status);
    }
  } catch {
    // Not JSON: a bucket's XML error or a proxy's page.
  }
  const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? `HTTP_${status}`;
  return new StorageClientError(code, `the server answered ${status} (${code})`, status);
}

/** Retries `op` up to `attempts` times on network failures and 5xx/429 answers, with doubling back-off. */
export async function withRetries<T>(
  attempts: number,
  signal: AbortSignal | undefined,
  op: () => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await op();
    } catch (err) {
      const e = err as StorageClientError;
      const transient = e.code === 'E_NETWORK' || (e.status !== null && (e.status >= 500 || e.status === 429));
      if (!transient || attempt >= attempts || signal?.aborted) throw err;
      await sleep(Math.min(250 * 2 ** (attempt - 1), 8000), signal);
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(aborted());
      },
      { once: true },
    );
  });
}
