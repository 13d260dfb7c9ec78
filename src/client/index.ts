// storage-svc/client: uploads from the browser (tus, one signed request, or direct multipart to
// the bucket) and the calls a file manager page needs. Browser code only: fetch, XMLHttpRequest,
// Blob, FormData; no Node imports.
import type { Upload as TusUpload } from 'tus-js-client';
import { errorOf, StorageClientError } from './transport';
import type {
  FileRecord,
  FileUrls,
  InstanceInfo,
  ListOptions,
  ListPage,
  StorageClient,
  StorageClientOptions,
  UploadHandle,
  UploadOptions,
  UploadStrategy,
} from './types';
import { encodePath, pickStrategy, uploadMultipart, uploadSigned, uploadTus, type UploadContext } from './upload';

export * from './types';
export { StorageClientError } from './transport';
export { pickStrategy, LARGE_FILE, TUS_USABLE } from './upload';

type Concrete = Exclude<UploadStrategy, 'auto'>;

/**
 * `auto`'s tus, falling back to one signed request when the service has no tus endpoint (404 or
 * 405 to the creation request: a deployment without it).
 */
async function tusOrSigned(ctx: UploadContext, control: { tus?: TusUpload }): Promise<FileRecord> {
  try {
    return await uploadTus(ctx, control);
  } catch (err) {
    const status = (err as StorageClientError).status;
    if (status !== 404 && status !== 405) throw err;
    return uploadSigned(ctx);
  }
}

/** A client of one service (its base URL with the route prefix) with one token. */
export function createStorageClient(options: StorageClientOptions): StorageClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const fetchImpl = options.fetch ?? ((...args: Parameters<typeof fetch>) => globalThis.fetch(...args));
  let instances: Promise<InstanceInfo[]> | undefined;

  /** A JSON call to the service: GET without `body`, else POST (`init` for other methods). */
  async function call<T>(path: string, body?: unknown, init: RequestInit = {}): Promise<T> {
    const headers: Record<string, string> = options.token ? { Authorization: `Bearer ${options.token}` } : {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response: Response;
    try {
      response = await fetchImpl(`${baseUrl}/${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        ...init,
      });
    } catch (err) {
      throw new StorageClientError('E_NETWORK', `the storage service could not be reached: ${String(err)}`);
    }
    const text = await response.text();
    if (!response.ok) throw errorOf(response.status, text);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  const query = (params: Record<string, string | number | undefined>) => {
    const pairs = Object.entries(params).filter(([, v]) => v !== undefined && v !== '');
    return pairs.length ? `?${pairs.map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`).join('&')}` : '';
  };

  async function instanceInfo(storage: string | undefined): Promise<InstanceInfo> {
    instances ??= call<InstanceInfo[]>('instances').catch((err: unknown) => {
      instances = undefined;
      throw err;
    });
    const all = await instances;
    const found = all.find((i) => (storage ? i.name === storage : i.default));
    if (!found) throw new StorageClientError('E_UNKNOWN_STORAGE', `unknown storage '${storage ?? '(default)'}'`);
    return found;
  }

  function upload(file: Blob & { name?: string }, opts: UploadOptions): UploadHandle {
    const storage = opts.storage ?? options.storage;
    const controller = new AbortController();
    opts.signal?.addEventListener('abort', () => controller.abort(), { once: true });
    let paused: { promise: Promise<void>; resolve: () => void } | null = null;
    const control: { tus?: TusUpload } = {};
    let chosen!: (s: Concrete) => void;
    let unchosen!: (err: unknown) => void;
    const strategy = new Promise<Concrete>((resolve, reject) => ([chosen, unchosen] = [resolve, reject]));
    strategy.catch(() => undefined);

    const run = async (): Promise<FileRecord> => {
      const instance = await instanceInfo(storage).catch((err: unknown) => {
        unchosen(err);
        throw err;
      });
      const picked = pickStrategy(instance, file.size, opts.strategy);
      chosen(picked);
      const ctx: UploadContext = {
        baseUrl,
        token: options.token,
        fetch: fetchImpl,
        call,
        file,
        options: { ...opts, storage, contentType: opts.contentType || file.type || 'application/octet-stream' },
        instance,
        progress: (sent) => opts.onProgress?.(Math.min(sent, file.size), file.size),
        signal: controller.signal,
        running: () => paused?.promise ?? Promise.resolve(),
      };
      if (picked === 'multipart') return uploadMultipart(ctx);
      if (picked === 'tus') return opts.strategy === 'tus' ? uploadTus(ctx, control) : tusOrSigned(ctx, control);
      return uploadSigned(ctx);
    };

    const promise = run();
    promise.catch(() => undefined);
    return {
      promise,
      strategy,
      pause() {
        if (paused) return;
        let resolve!: () => void;
        const promise = new Promise<void>((r) => (resolve = r));
        paused = { promise, resolve };
        void control.tus?.abort(false);
      },
      resume() {
        const was = paused;
        paused = null;
        was?.resolve();
        control.tus?.start();
      },
      async abort() {
        controller.abort();
        paused?.resolve();
        await promise.then(
          () => undefined,
          () => undefined,
        );
      },
    };
  }

  return {
    instances: () => call<InstanceInfo[]>('instances'),
    upload,
    list: (o: ListOptions = {}) =>
      call<ListPage>(
        `files${query({ prefix: o.prefix, limit: o.limit, cursor: o.cursor, storage: o.storage ?? options.storage })}`,
      ),
    meta: (path, storage) =>
      call<FileRecord>(`meta/${encodePath(path)}${query({ storage: storage ?? options.storage })}`),
    remove: (path, storage) =>
      call<void>(`files/${encodePath(path)}${query({ storage: storage ?? options.storage })}`, undefined, {
        method: 'DELETE',
      }),
    async urls(path, o = {}): Promise<FileUrls> {
      const storage = o.storage ?? options.storage;
      const signed = await call<{ url: string; expiresAt: number }>('sign', {
        file: path,
        method: 'GET',
        storage,
        expiresIn: o.expiresIn,
      });
      // The service's own signed URL (local disk) carries a query that preview and thumbnails accept too.
      const own = signed.url.startsWith(`${baseUrl}/files/`) ? new URL(signed.url).search.slice(1) : '';
      const base = (route: string) => `${baseUrl}/${route}/${encodePath(path)}`;
      const withQuery = (url: string, extra: Record<string, string | number | undefined>) => {
        const q = query({ ...(own ? {} : { storage }), ...extra });
        const tail = [q.slice(1), own].filter(Boolean).join('&');
        return tail ? `${url}?${tail}` : url;
      };
      return {
        download: signed.url,
        preview: withQuery(base('preview'), {}),
        thumbnail: (width, height) => withQuery(base('thumbnail'), { width, height }),
        expiresAt: signed.expiresAt,
      };
    },
  };
}
