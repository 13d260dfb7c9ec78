import type { UploadHandle } from '../../client/types';
import { announce, byId, h } from './dom';
import { formatProgress } from './format';
import type { PageContext } from './context';

/**
 * Uploads by drag-and-drop onto the drop zone or through the file input, each with its own row:
 * a progress bar, Pause/Resume (where the transfer can resume without resending: tus,
 * multipart) and Cancel. The file goes to the folder shown, with the expiry chosen beside the zone.
 */
export function setUpUploads(current: () => PageContext | undefined): void {
  const zone = byId('dropzone');
  const input = byId<HTMLInputElement>('file-input');
  const start = (files: FileList | null) => {
    const ctx = current();
    if (ctx && files) for (const file of files) startUpload(ctx, file);
  };
  input.addEventListener('change', () => {
    start(input.files);
    input.value = '';
  });
  zone.addEventListener('dragover', (event) => {
    event.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    zone.classList.remove('over');
    start(event.dataTransfer?.files ?? null);
  });
  // A file dropped next to the zone must not make the browser leave the page to open it.
  for (const type of ['dragover', 'drop']) document.addEventListener(type, (event) => event.preventDefault());
}

/** Seconds chosen in the expiry picker; undefined for a file that does not expire. */
function chosenExpiry(): number | undefined {
  const value = byId<HTMLSelectElement>('expires').value;
  return value ? Number(value) : undefined;
}

function startUpload(ctx: PageContext, file: File): void {
  const path = `${ctx.prefix}${file.name}`;
  const progress = h('progress', { max: 100, value: 0, 'aria-label': `Upload of ${file.name}` });
  const state = h('span', { class: 'state' }, 'Starting…');
  const pause = h('button', { type: 'button', hidden: true, 'aria-label': `Pause ${file.name}` }, 'Pause');
  const cancel = h('button', { type: 'button', 'aria-label': `Cancel ${file.name}` }, 'Cancel');
  const row = h('li', { 'data-path': path }, h('span', {}, path), progress, state, h('span', {}, pause, cancel));
  byId('uploads').append(row);

  const strategy = ctx.instance.uploads.tus ? 'tus' : 'auto';
  const upload = ctx.client.upload(file, {
    path,
    storage: ctx.instance.name,
    contentType: file.type || undefined,
    expires: chosenExpiry(),
    strategy,
    onProgress(sent, total) {
      progress.value = total > 0 ? (sent / total) * 100 : 100;
      state.textContent = formatProgress(sent, total);
    },
  });
  void upload.strategy.then((chosen) => (pause.hidden = chosen !== 'tus' && chosen !== 'multipart'));
  wirePause(upload, pause, state, file.name);
  cancel.addEventListener('click', () => void upload.abort());
  upload.promise.then(
    () => {
      progress.value = 100;
      state.textContent = 'Done';
      pause.hidden = true;
      cancel.hidden = true;
      row.dataset.state = 'done';
      announce(`Uploaded ${file.name}.`);
      void ctx.refresh();
    },
    (err: Error) => {
      state.textContent = (err as { code?: string }).code === 'E_ABORTED' ? 'Cancelled' : `Failed: ${err.message}`;
      pause.hidden = true;
      cancel.hidden = true;
      row.dataset.state = 'failed';
      announce(`Upload of ${file.name} ${state.textContent.toLowerCase()}.`);
    },
  );
}

function wirePause(upload: UploadHandle, button: HTMLButtonElement, state: HTMLElement, name: string): void {
  let paused = false;
  button.addEventListener('click', () => {
    paused = !paused;
    if (paused) upload.pause();
    else upload.resume();
    button.textContent = paused ? 'Resume' : 'Pause';
    button.setAttribute('aria-label', `${button.textContent} ${name}`);
    if (paused) state.textContent = `Paused · ${state.textContent}`;
  });
}
