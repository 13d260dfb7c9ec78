import { createStorageClient } from '../../client';
import { announce, byId, h } from './dom';
import { hashOf, locationOf, type InstanceInfo, type PageContext, type StorageClient } from './context';
import { listFolder, renderFolder, setUpRowKeys } from './file-list';
import { setUpPreview } from './preview';
import {
  forgetToken,
  keepInstance,
  keepToken,
  keptInstance,
  serviceBaseUrl,
  takeToken,
  tokenFromHash,
} from './session';
import { setUpUploads } from './uploads';

/**
 * The file manager page: sign in with a token (the form, or `#token=…`), pick an instance, walk
 * folders (`#storage=…&path=…`), upload, preview, download, delete.
 */
let context: PageContext | undefined;
let instances: InstanceInfo[] = [];

function showLogin(message?: string): void {
  context = undefined;
  byId('main').hidden = true;
  byId('session-tools').hidden = true;
  byId('login').hidden = false;
  const error = byId('login-error');
  error.hidden = !message;
  error.textContent = message ?? '';
  byId('token').focus();
}

async function signIn(token: string): Promise<void> {
  const client = createStorageClient({ baseUrl: serviceBaseUrl(), token });
  try {
    instances = await client.instances();
  } catch (err) {
    forgetToken();
    const status = (err as { status?: number | null }).status;
    showLogin(
      status === 401 ? 'That token was not accepted.' : `The service did not answer: ${(err as Error).message}`,
    );
    return;
  }
  if (instances.length === 0) {
    showLogin('That token may use no storage instance.');
    return;
  }
  keepToken(token);
  fillInstancePicker(instances);
  byId('login').hidden = true;
  byId('main').hidden = false;
  byId('session-tools').hidden = false;
  await show(client);
}

function fillInstancePicker(list: InstanceInfo[]): void {
  byId('instance').replaceChildren(
    ...list.map((instance) => h('option', { value: instance.name }, `${instance.name} (${instance.kind})`)),
  );
}

/** Shows the folder the URL names, on the instance it names (else the one picked last, else the default). */
async function show(client: StorageClient): Promise<void> {
  const where = locationOf(location.hash);
  const wanted = where.storage ?? keptInstance();
  const instance = instances.find((i) => i.name === wanted) ?? instances.find((i) => i.default) ?? instances[0];
  keepInstance(instance.name);
  byId<HTMLSelectElement>('instance').value = instance.name;
  const ctx: PageContext = {
    client,
    base: serviceBaseUrl(),
    instance,
    prefix: where.prefix,
    refresh: async () => {
      const { items, cut } = await listFolder(ctx);
      if (context === ctx) renderFolder(ctx, items, cut);
    },
  };
  context = ctx;
  byId('upload-target').textContent = `${instance.name}:/${ctx.prefix}`;
  await ctx.refresh().catch((err: Error) => {
    byId('rows').replaceChildren();
    announce(`Could not list this folder: ${err.message}`);
  });
}

function start(): void {
  setUpPreview();
  setUpRowKeys();
  setUpUploads(() => context);
  byId('login').addEventListener('submit', (event) => {
    event.preventDefault();
    void signIn(byId<HTMLInputElement>('token').value.trim());
  });
  byId('sign-out').addEventListener('click', () => {
    forgetToken();
    showLogin();
  });
  byId<HTMLSelectElement>('instance').addEventListener('change', (event) => {
    location.hash = hashOf((event.target as HTMLSelectElement).value, '');
  });
  window.addEventListener('hashchange', () => {
    const token = tokenFromHash();
    if (token) void signIn(token);
    else if (context) void show(context.client);
  });
  const token = takeToken();
  if (token) void signIn(token);
  else showLogin();
}

start();
