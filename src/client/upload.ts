// The three ways bytes travel from the browser, each ending in the file's record.
import { Upload as TusUpload } from 'tus-js-client';
import { errorOf, sendBody, StorageClientError, withRetries, type SentBody } from './transport';
import type { FileRecord, InstanceInfo, UploadOptions, UploadStrategy } from './types';

/** What a strategy gets: the service call helper, the file and the caller's options, resolved. */
export interface UploadContext {
  baseUrl: string;
  token?: string;
  fetch: typeof fetch;
  /** A JSON call to the service (`{prefix}/…`), rejecting with its error. */
  call<T>(path: string, body?: unknown): Promise<T>;
  file: Blob & { name?: string };
  options: UploadOptions & { storage?: string; contentType: string };
  instance: InstanceInfo;
  /** Acknowledged bytes so far, reported to `onProgress`. */
  progress(sent: number): void;
  /** Aborted by `abort()` or the caller's signal. */
  signal: AbortSignal;
  /** Resolves when not paused (at once when running). */
  running(): Promise<void>;
}

/** Files above this size go to multipart (cloud) or tus (local) under `auto`. */
export const LARGE_FILE = 64 * 1024 * 1024;

/**
 * Whether tus-js-client can read a Blob here: in browsers (its browser build slices it); its Node
 * build takes only Buffers and Node streams, which this browser module does not make.
 */
export const TUS_USABLE = typeof (globalThis as { FileReader?: unknown }).FileReader === 'function';

/**
 * `auto`: multipart for large files where the backend has it, tus for large files elsewhere
 * (where tus works here), else one signed request.
 */
export function pickStrategy(
  instance: InstanceInfo,
  size: number,
  asked: UploadStrategy = 'auto',
  tusUsable = TUS_USABLE,
): Exclude<UploadStrategy, 'auto'> {
  if (asked !== 'auto') return asked;
  if (size > LARGE_FILE && instance.uploads.multipart) return 'multipart';
  if (size > LARGE_FILE && instance.uploads.tus && tusUsable) return 'tus';
  return 'put';
}

/**
 * One signed request: `POST {prefix}/sign`, then the file to the URL (a PUT, or a POST form whose
 * fields come first and the file last), then, for a cloud bucket, `sign/complete`. The service's
 * own upload route (local disk) answers with the record itself.
 */
export async function uploadSigned(ctx: UploadContext): Promise<FileRecord> {
  const { file, options } = ctx;
  const signed = await ctx.call<{
    url: string;
    method: 'PUT' | 'POST';
    headers: Record<string, string>;
    fields?: Record<string, string>;
  }>('sign', {
    file: options.path,
    contentType: options.contentType,
    storage: options.storage,
    md5: options.md5,
    expires: options.expires,
  });
  let body: Blob | FormData = file.slice(0, file.size, signed.headers['Content-Type'] ?? '');
  if (signed.method === 'POST') {
    const form = new FormData();
    for (const [name, value] of Object.entries(signed.fields ?? {})) form.append(name, value);
    form.append('file', body, file.name ?? 'file');
    body = form;
  }
  const answer = await withRetries(options.retries ?? 5, ctx.signal, async () => {
    await ctx.running();
    const sent = await sendBody(
      signed.url,
      { method: signed.method, headers: signed.headers, body, onProgress: ctx.progress, signal: ctx.signal },
      ctx.fetch,
    );
    return accepted(sent);
  });
  ctx.progress(file.size);
  // The service's own upload route (local disk) answers with the record; a bucket does not.
  return (
    recordIn(answer.text) ?? ctx.call<FileRecord>('sign/complete', { file: options.path, storage: options.storage })
  );
}

/** The record a JSON answer carries, or null (a bucket's empty or XML answer). */
function recordIn(text: string): FileRecord | null {
  try {
    const record = JSON.parse(text) as FileRecord;
    return record && typeof record === 'object' && typeof record.name === 'string' ? record : null;
  } catch {
    return null;
  }
}

/** A 2xx answer, else its error (thrown, so `withRetries` decides). */
function accepted(sent: SentBody): SentBody {
  if (sent.status >= 200 && sent.status < 300) return sent;
  throw errorOf(sent.status, sent.text);
}

interface Started {
  id: string;
  uploadId: string;
  partSize: number;
}

interface SignedPart {
  partNumber: number;
  url: string;
  method: string;
  headers: Record<string, string>;
}

/**
 * A direct multipart upload: `sign/multipart` begins it, part URLs are signed in batches as they
 * are needed, `concurrency` parts travel at once (each retried with back-off), and
 * `sign/multipart/complete` joins and records them. `abort()` (or a failure) drops the parts.
 */
export async function uploadMultipart(ctx: UploadContext): Promise<FileRecord> {
  const { file, options } = ctx;
  const target = { file: options.path, storage: options.storage };
  const started = await ctx.call<Started>('sign/multipart', {
    ...target,
    contentType: options.contentType,
    size: file.size,
    partSize: options.partSize,
    md5: options.md5,
    expires: options.expires,
  });
  const ref = { ...target, id: started.id, uploadId: started.uploadId };
  const count = Math.max(1, Math.ceil(file.size / started.partSize));
  const sent = new Map<number, number>();
  const report = () => ctx.progress([...sent.values()].reduce((a, b) => a + b, 0));
  const etags: string[] = [];
  const urls = new PartUrls(ctx, ref, count);
  let next = 1;
  const worker = async () => {
    for (let n = next++; n <= count; n = next++) {
      const start = (n - 1) * started.partSize;
      const end = Math.min(file.size, start + started.partSize);
      etags[n - 1] = await withRetries(options.retries ?? 5, ctx.signal, async () => {
        await ctx.running();
        const part = await urls.get(n);
        const body = file.slice(start, end, part.headers['Content-Type'] ?? '');
        const onProgress = (bytes: number) => {
          sent.set(n, bytes);
          report();
        };
        const answer = accepted(
          await sendBody(
            part.url,
            { method: part.method, headers: part.headers, body, onProgress, signal: ctx.signal },
            ctx.fetch,
          ),
        );
        sent.set(n, end - start);
        report();
        return answer.header('ETag') ?? '';
      });
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(count, options.concurrency ?? 4) }, worker));
    const parts = etags.map((etag, i) => ({ partNumber: i + 1, etag }));
    return await ctx.call<FileRecord>('sign/multipart/complete', { ...ref, parts });
  } catch (err) {
    await ctx.call('sign/multipart/abort', ref).catch(() => undefined);
    throw err;
  }
}

/** Part URLs, signed in batches of up to 100 ahead of the parts that need them. */
class PartUrls {
  private readonly batches = new Map<number, Promise<Map<number, SignedPart>>>();

  constructor(
    private readonly ctx: UploadContext,
    private readonly ref: Record<string, unknown>,
    private readonly count: number,
  ) {}

  async get(n: number): Promise<SignedPart> {
    const first = Math.floor((n - 1) / 100) * 100 + 1;
    let batch = this.batches.get(first);
    if (!batch) {
      const numbers = Array.from({ length: Math.min(100, this.count - first + 1) }, (_, i) => first + i);
      batch = this.ctx
        .call<{ parts: SignedPart[] }>('sign/multipart/parts', { ...this.ref, parts: numbers })
        .then((answer) => new Map(answer.parts.map((p) => [p.partNumber, p])));
      this.batches.set(first, batch);
      batch.catch(() => this.batches.delete(first));
    }
    const part = (await batch).get(n);
    if (!part) throw new StorageClientError('E_INTERNAL', `the service signed no URL for part ${n}`);
    return part;
  }
}

/**
 * tus to `{prefix}/tus` with `tus-js-client` (its retries and resumption: a stopped upload
 * continues from the offset the server has). The record is the final answer's JSON when the
 * server sends it, else read with `meta`.
 */
export function uploadTus(ctx: UploadContext, control: { tus?: TusUpload }): Promise<FileRecord> {
  const { file, options } = ctx;
  const metadata: Record<string, string> = {
    name: options.path,
    filename: file.name ?? options.path.split('/').pop() ?? 'file',
    filetype: options.contentType,
  };
  if (options.storage) metadata.storage = options.storage;
  if (options.md5) metadata.md5 = options.md5;
  if (options.expires !== undefined) metadata.expires = String(options.expires);
  return new Promise<string>((resolve, reject) => {
    const upload = new TusUpload(file, {
      endpoint: `${ctx.baseUrl}/tus`,
      headers: ctx.token ? { Authorization: `Bearer ${ctx.token}` } : {},
      metadata,
      retryDelays: [0, 1000, 3000, 5000, 10000],
      removeFingerprintOnSuccess: true,
      onProgress: (sent) => ctx.progress(sent),
      onSuccess: ({ lastResponse }) => resolve(lastResponse.getBody() ?? ''),
      onError: (err) => {
        const status = (err as { originalResponse?: { getStatus(): number; getBody(): string } | null })
          .originalResponse;
        reject(
          status ? errorOf(status.getStatus(), status.getBody()) : new StorageClientError('E_NETWORK', err.message),
        );
      },
    });
    control.tus = upload;
    ctx.signal.addEventListener('abort', () => void upload.abort(true).catch(() => undefined), { once: true });
    void upload.findPreviousUploads().then((previous) => {
      if (previous[0]) upload.resumeFromPreviousUpload(previous[0]);
      upload.start();
    });
  }).then((body) => {
    const record = recordIn(body);
    if (record) return record;
    const name = options.md5 ? `${options.md5}${suffixOf(options.path)}` : options.path;
    const query = options.storage ? `?storage=${encodeURIComponent(options.storage)}` : '';
    return ctx.call<FileRecord>(`meta/${encodePath(name)}${query}`);
  });
}

/** The name's extension as md5 naming keeps it (`.pdf`), or nothing: the service's `fileSuffix` rule. */
function suffixOf(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  if (dot <= 0 || dot === base.length - 1) return '';
  const suffix = base.slice(dot).toLowerCase();
  return /^\.[a-z0-9]{1,16}$/.test(suffix) ? suffix : '';
}

export function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}
