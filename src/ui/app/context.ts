import type { FileRecord, InstanceInfo, StorageClient } from '../../client/types';

/** What the page's parts share: the client (with the token), where the user is, and how to redraw. */
export interface PageContext {
  client: StorageClient;
  /** The service's base URL with its route prefix. */
  base: string;
  instance: InstanceInfo;
  /** The folder shown: '' or a prefix ending in `/`. */
  prefix: string;
  /** Lists the folder again and redraws it. */
  refresh(): Promise<void>;
}

export type { FileRecord, InstanceInfo, StorageClient };

/** `a b/c#d` → `a%20b/c%23d`: each segment encoded, the slashes kept. */
export function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

/**
 * Preview and thumbnail URLs of a file. Those of a public instance are plain same-origin URLs
 * (no request to make them); a private instance's are signed by the service (one request).
 */
export async function fileUrls(
  ctx: PageContext,
  record: FileRecord,
): Promise<{ preview: string; thumbnail(size: number): string }> {
  const storage = encodeURIComponent(ctx.instance.name);
  if (ctx.instance.public) {
    const key = encodeKey(record.name);
    return {
      preview: `${ctx.base}/preview/${key}?storage=${storage}`,
      thumbnail: (size) => `${ctx.base}/thumbnail/${key}?storage=${storage}&width=${size}&height=${size}`,
    };
  }
  const urls = await ctx.client.urls(record.name, { storage: ctx.instance.name });
  return { preview: urls.preview, thumbnail: (size) => urls.thumbnail(size, size) };
}

/** Where the browser is: `#storage=…&path=…` (so that back and forward move between folders). */
export function locationOf(hash: string): { storage: string | null; prefix: string } {
  const params = new URLSearchParams(hash.slice(1));
  const path = params.get('path') ?? '';
  return { storage: params.get('storage'), prefix: path && !path.endsWith('/') ? `${path}/` : path };
}

export function hashOf(storage: string, prefix: string): string {
  const params = new URLSearchParams({ storage, path: prefix });
  return `#${params.toString()}`;
}
