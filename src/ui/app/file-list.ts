import { announce, byId, h } from './dom';
import { baseName, breadcrumbs, folderView, previewKind } from './folders';
import { formatBytes, formatExpiry, formatTime } from './format';
import { fileUrls, hashOf, type FileRecord, type PageContext } from './context';
import { openPreview } from './preview';

/** The most records one folder view reads (pages of 1000): past it the page says the list is cut. */
const MAX_ITEMS = 10_000;
const THUMB_SIZE = 64;

/** Every live record under the folder's prefix, page after page. */
export async function listFolder(ctx: PageContext): Promise<{ items: FileRecord[]; cut: boolean }> {
  const items: FileRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await ctx.client.list({ prefix: ctx.prefix, storage: ctx.instance.name, limit: 1000, cursor });
    items.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor && items.length < MAX_ITEMS);
  return { items, cut: cursor !== undefined };
}

/** Draws the breadcrumbs and the rows: folders first, then files, each sorted by name. */
export function renderFolder(ctx: PageContext, items: FileRecord[], cut: boolean): void {
  renderCrumbs(ctx);
  const { folders, files } = folderView(items, ctx.prefix);
  const rows = [...folders.map((folder) => folderRow(ctx, folder)), ...files.map((record) => fileRow(ctx, record))];
  byId('rows').replaceChildren(...rows);
  byId('empty').hidden = rows.length > 0;
  if (cut) announce(`Showing the first ${items.length} files of this folder.`);
}

function renderCrumbs(ctx: PageContext): void {
  const crumbs = breadcrumbs(ctx.prefix);
  byId('crumbs').replaceChildren(
    ...crumbs.map((crumb, i) =>
      h(
        'li',
        {},
        h(
          'a',
          { href: hashOf(ctx.instance.name, crumb.prefix), 'aria-current': i === crumbs.length - 1 ? 'page' : false },
          crumb.label,
        ),
      ),
    ),
  );
}

function folderRow(ctx: PageContext, folder: string): HTMLTableRowElement {
  const link = h('a', { href: hashOf(ctx.instance.name, `${ctx.prefix}${folder}/`) }, `${folder}/`);
  return h(
    'tr',
    { 'data-folder': folder },
    h('td', {}, h('span', { class: 'badge', 'aria-hidden': 'true' }, 'dir')),
    h('td', {}, link),
    h('td', {}),
    h('td', {}),
    h('td', {}),
    h('td', {}),
  );
}

function fileRow(ctx: PageContext, record: FileRecord): HTMLTableRowElement {
  const label = baseName(record.name);
  const download = () => void startDownload(ctx, record);
  const previewable = previewKind(record.type) !== 'none';
  const open = h('button', { type: 'button', class: 'name', title: previewable ? 'Preview' : 'Download' }, label);
  open.addEventListener('click', () => (previewable ? void openPreview(ctx, record, download) : download()));
  const downloadButton = h('button', { type: 'button', 'aria-label': `Download ${label}` }, 'Download');
  downloadButton.addEventListener('click', download);
  const deleteButton = h('button', { type: 'button', class: 'danger', 'aria-label': `Delete ${label}` }, 'Delete');
  const row = h(
    'tr',
    { 'data-name': record.name },
    h('td', {}, thumbnail(ctx, record)),
    h('td', {}, open),
    h('td', {}, formatBytes(record.size)),
    h('td', {}, h('time', { datetime: new Date(record.uploadTime).toISOString() }, formatTime(record.uploadTime))),
    h('td', {}, expiryCell(record.expires)),
    h('td', {}, h('div', { class: 'actions' }, downloadButton, deleteButton)),
  );
  deleteButton.addEventListener('click', () => void removeFile(ctx, record, row));
  return row;
}

function expiryCell(expires: number | null): Node {
  if (expires === null) return document.createTextNode('never');
  const text = formatExpiry(expires, Date.now());
  return h('time', { datetime: new Date(expires).toISOString(), title: formatTime(expires) }, text);
}

/** An image's thumbnail (the service renders and caches it); a type badge for anything else. */
function thumbnail(ctx: PageContext, record: FileRecord): HTMLElement {
  if (previewKind(record.type) !== 'image') {
    const extension = /\.([A-Za-z0-9]{1,4})$/.exec(record.name)?.[1] ?? 'file';
    return h('span', { class: 'badge', 'aria-hidden': 'true' }, extension);
  }
  const img = h('img', { class: 'thumb', alt: '', width: 48, height: 48, loading: 'lazy', decoding: 'async' });
  void fileUrls(ctx, record).then(
    (urls) => (img.src = urls.thumbnail(THUMB_SIZE)),
    () => img.remove(),
  );
  return img;
}

/** A signed download URL (no token in it for long), opened as a download. */
async function startDownload(ctx: PageContext, record: FileRecord): Promise<void> {
  try {
    const urls = await ctx.client.urls(record.name, { storage: ctx.instance.name });
    const link = h('a', { href: urls.download, download: baseName(record.name), hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
  } catch (err) {
    announce(`Could not download ${baseName(record.name)}: ${(err as Error).message}`);
  }
}

async function removeFile(ctx: PageContext, record: FileRecord, row: HTMLTableRowElement): Promise<void> {
  const label = baseName(record.name);
  if (!confirm(`Delete ${label}?`)) return;
  try {
    await ctx.client.remove(record.name, ctx.instance.name);
    const next = (row.nextElementSibling ?? row.previousElementSibling) as HTMLElement | null;
    row.remove();
    byId('empty').hidden = byId('rows').childElementCount > 0;
    (next?.querySelector<HTMLElement>('button, a') ?? byId('main')).focus();
    announce(`Deleted ${label}.`);
  } catch (err) {
    announce(`Could not delete ${label}: ${(err as Error).message}`);
  }
}

/**
 * Arrow keys move between rows (to the same column's control), Home and End to the first and
 * last row; Tab still moves through every control.
 */
export function setUpRowKeys(): void {
  byId('rows').addEventListener('keydown', (event) => {
    const target = event.target as HTMLElement;
    const cell = target.closest('td');
    const row = target.closest('tr');
    if (!cell || !row) return;
    const rows = [...byId('rows').children] as HTMLTableRowElement[];
    const index = rows.indexOf(row);
    const next =
      event.key === 'ArrowDown'
        ? rows[index + 1]
        : event.key === 'ArrowUp'
          ? rows[index - 1]
          : event.key === 'Home'
            ? rows[0]
            : event.key === 'End'
              ? rows[rows.length - 1]
              : undefined;
    if (!next) return;
    event.preventDefault();
    const column = [...row.children].indexOf(cell);
    const focusable = (r: HTMLTableRowElement) => r.querySelector<HTMLElement>('a, button');
    (next.children[column]?.querySelector<HTMLElement>('a, button') ?? focusable(next))?.focus();
  });
}
