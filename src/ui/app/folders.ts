/**
 * Folders are key prefixes: a listing of `prefix` is split, by the next `/` after it, into the
 * folders below it and the files in it. Pure, so that the page and its spec share it.
 */

export interface Named {
  name: string;
}

export interface FolderView<T extends Named> {
  /** Names of the folders right below the prefix (without the prefix, without a trailing `/`), sorted. */
  folders: string[];
  /** Records whose key is directly in the prefix, sorted by name. */
  files: T[];
}

export function folderView<T extends Named>(items: readonly T[], prefix: string): FolderView<T> {
  const folders = new Set<string>();
  const files: T[] = [];
  for (const item of items) {
    if (!item.name.startsWith(prefix)) continue;
    const rest = item.name.slice(prefix.length);
    const slash = rest.indexOf('/');
    if (slash >= 0) folders.add(rest.slice(0, slash));
    else files.push(item);
  }
  const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return { folders: [...folders].sort(byName), files: files.sort((a, b) => byName(a.name, b.name)) };
}

export interface Crumb {
  label: string;
  prefix: string;
}

/** `a/b/` → root, `a`, `a/b`: each with the prefix it opens. */
export function breadcrumbs(prefix: string): Crumb[] {
  const crumbs: Crumb[] = [{ label: 'All files', prefix: '' }];
  let path = '';
  for (const segment of prefix.split('/').filter(Boolean)) {
    path += `${segment}/`;
    crumbs.push({ label: segment, prefix: path });
  }
  return crumbs;
}

/** The last segment of a key: what a row shows. */
export function baseName(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}

/** How the page shows a file in place: by its content type. */
export type PreviewKind = 'image' | 'video' | 'audio' | 'pdf' | 'text' | 'none';

export function previewKind(type: string): PreviewKind {
  const essence = type.split(';')[0].trim().toLowerCase();
  if (essence === 'image/svg+xml') return 'none';
  if (essence === 'application/pdf') return 'pdf';
  if (essence === 'text/plain') return 'text';
  const top = essence.split('/')[0];
  return top === 'image' || top === 'video' || top === 'audio' ? top : 'none';
}
