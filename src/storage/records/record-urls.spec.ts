import { ConfigError } from '../config/storage-config';
import type { FileEntity } from '../database/entities/file.entity';
import { resolveStorageOptions } from '../options/resolved-options';
import type { StorageOptions } from '../options/storage.options';
import { StorageRegistry } from '../registry/storage-registry';
import { FileRecords, routeUrl } from './file-records';

/** FileRecords as the module builds it, for its URL rules (no database is touched). */
async function records(given: Partial<StorageOptions>, http = true): Promise<FileRecords> {
  const options: StorageOptions = {
    storages: {
      'storages.A': { type: 'storages.MemoryType' },
      'storages.B': { type: 'storages.MemoryType' },
      'storages.Cdn': { type: 'storages.MemoryType', publicUrl: 'https://cdn.test/c' },
    },
    publicBaseUrl: 'https://files.test/',
    ...given,
  };
  const first = Object.keys(options.storages)[0];
  options.settings ??= { defaultElement: { defaultStorage: first } };
  const registry = await StorageRegistry.create(options);
  const resolved = resolveStorageOptions(options, { routePrefix: 'files-api', http });
  return new FileRecords(resolved, registry, null as never, null as never, null as never, null as never, null as never);
}

const saved = (storeFullName: string): Pick<FileEntity, 'storeFullName' | 'name' | 'objectKey'> => ({
  storeFullName,
  name: 'docs/a b.pdf',
  objectKey: 'docs/a b.~vabc123.pdf',
});

describe('record URLs', () => {
  it('name their instance, so a saved URL means the same file whatever the default becomes', async () => {
    const before = await records({ settings: { defaultElement: { defaultStorage: 'storages.A' } } });
    const after = await records({ settings: { defaultElement: { defaultStorage: 'storages.B' } } });
    const url = before.urlOf(saved('storages.A'));
    expect(url).toBe('https://files.test/files-api/preview/docs/a%20b.pdf?storage=storages.A');
    expect(after.urlOf(saved('storages.A'))).toBe(url);
    expect(new URL(url).searchParams.get('storage')).toBe('storages.A');
  });

  it('are the backend’s own URL of the object version when the instance has one', async () => {
    const urls = await records({});
    expect(urls.urlOf(saved('storages.Cdn'))).toBe('https://cdn.test/c/docs/a%20b.~vabc123.pdf');
  });

  it('come from the host’s builder when it gives one', async () => {
    const urls = await records({ urlBuilder: ({ storage, key, publicUrl }) => `x:${storage}:${key}:${publicUrl}` });
    expect(urls.urlOf(saved('storages.Cdn'))).toBe(
      'x:storages.Cdn:docs/a b.pdf:https://cdn.test/c/docs/a%20b.~vabc123.pdf',
    );
  });

  it('never point at a route that does not exist: without http, an instance with no URL stops start-up', async () => {
    await expect(records({}, false)).rejects.toThrow(ConfigError);
    await expect(records({}, false)).rejects.toThrow("storages['storages.A'].publicUrl");
    const onlyCdn = await records(
      { storages: { 'storages.Cdn': { type: 'storages.MemoryType', publicUrl: 'https://cdn.test/c' } } },
      false,
    );
    expect(onlyCdn.urlOf(saved('storages.Cdn'))).toMatch(/^https:\/\/cdn\.test\//);
    const built = await records({ urlBuilder: ({ key }) => `https://host.test/${key}` }, false);
    expect(built.urlOf(saved('storages.A'))).toBe('https://host.test/docs/a b.pdf');
    const noRoutes = resolveStorageOptions({ storages: {} }, { routePrefix: 'storage', http: false });
    expect(() => routeUrl(noRoutes, 'preview', 'a.txt', 'storages.A')).toThrow(/http: false/);
  });
});

describe('publicBaseUrl', () => {
  const resolve = (publicBaseUrl: string | undefined, http = true) =>
    resolveStorageOptions({ storages: {}, publicBaseUrl }, { routePrefix: 'storage', http }).publicBaseUrl;

  it('is required while the routes are served, and never guessed', () => {
    expect(() => resolve(undefined)).toThrow("'publicBaseUrl': required while the module serves its HTTP API");
    expect(resolve(undefined, false)).toBeUndefined();
  });

  it.each(['files.test', '/relative', 'ftp://files.test', 'https://files.test/?a=1'])('refuses %j', (raw) => {
    expect(() => resolve(raw)).toThrow(ConfigError);
  });

  it('keeps a path and drops the trailing slash', () => {
    expect(resolve('https://example.test/api/')).toBe('https://example.test/api');
  });
});
