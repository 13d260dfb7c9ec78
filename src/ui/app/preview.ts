import { byId, h } from './dom';
import { baseName, previewKind } from './folders';
import { fileUrls, type FileRecord, type PageContext } from './context';

/**
 * Shows a file in place, in a modal `<dialog>` (focus moves into it, Escape closes it, focus
 * returns to the row): images, PDF and plain text in a frame, audio and video with controls.
 * Media load from the preview URL, which answers ranges, so a video seeks without loading all of it.
 */
export async function openPreview(ctx: PageContext, record: FileRecord, download: () => void): Promise<void> {
  const dialog = byId<HTMLDialogElement>('preview');
  const body = byId('preview-body');
  const urls = await fileUrls(ctx, record);
  byId('preview-title').textContent = baseName(record.name);
  byId('preview-download').onclick = download;
  body.replaceChildren(previewElement(record, urls.preview));
  dialog.showModal();
  byId('preview-close').focus();
}

function previewElement(record: FileRecord, url: string): HTMLElement {
  const label = baseName(record.name);
  switch (previewKind(record.type)) {
    case 'image':
      return h('img', { src: url, alt: label });
    case 'video':
      return h('video', { src: url, controls: true, preload: 'metadata', 'aria-label': label });
    case 'audio':
      return h('audio', { src: url, controls: true, preload: 'metadata', 'aria-label': label });
    case 'pdf':
    case 'text':
      return h('iframe', { src: url, title: label });
    default:
      return h('p', {}, 'No preview for this type; download it instead.');
  }
}

/** Wires the dialog's close button and stops media when it closes. */
export function setUpPreview(): void {
  const dialog = byId<HTMLDialogElement>('preview');
  byId('preview-close').addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => byId('preview-body').replaceChildren());
}
