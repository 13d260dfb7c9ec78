import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { StorageErrorCode } from '../errors/storage.error';
import type { StorageOptions } from '../options/storage.options';
import { StorageRegistry, validateStorageConfig } from './storage-registry';

describe('validateStorageConfig', () => {
  const local = { type: 'storages.LocalType', root: './x' };
  it.each<[string, Partial<StorageOptions>, RegExp]>([
    ['no storages', { storages: {} }, /'storages'/],
    ['a bad element name', { storages: { Default: local } }, /storages\['Default'\]/],
    [
      'an unknown type',
      { storages: { 'storages.Default': { type: 'storages.FtpType' } } },
      /storages\['storages.Default'\]\.type.*known types/,
    ],
    [
      'a missing root',
      { storages: { 'storages.Default': { type: 'storages.LocalType' } } },
      /storages\['storages.Default'\]\.root/,
    ],
    ['a bad publicUrl', { storages: { 'storages.Default': { ...local, publicUrl: 'ftp://x' } } }, /\.publicUrl/],
    [
      'a default that is not configured',
      { settings: { defaultElement: { defaultStorage: 'storages.Nope' } }, storages: { 'storages.Default': local } },
      /settings\.defaultElement\.defaultStorage.*storages\.Default/,
    ],
    [
      'no storages.Default and no default set',
      { storages: { 'storages.Other': local } },
      /defaultStorage.*'storages.Default'/,
    ],
  ])('refuses %s, naming the field', (_label, options, message) => {
    expect(() => validateStorageConfig(options as StorageOptions)).toThrow(message);
  });
});

describe('StorageRegistry', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reg-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('builds instances by element name and falls back to the configured default', async () => {
    const registry = await StorageRegistry.create({
      settings: { defaultElement: { defaultStorage: 'storages.B' } },
      storages: {
        'storages.A': { type: 'storages.LocalType', root: 'a' },
        'storages.B': { type: 'storages.LocalType', root: 'b' },
      },
      baseDir: dir,
    });
    expect(registry.names()).toEqual(['storages.A', 'storages.B']);
    expect(registry.get().name).toBe('storages.B');
    expect(registry.get('storages.A').type).toBe('storages.LocalType');
    expect(fs.existsSync(path.join(dir, 'a'))).toBe(true);
    expect(() => registry.get('storages.C')).toThrow(
      expect.objectContaining({
        code: StorageErrorCode.UNKNOWN_STORAGE,
        message: "unknown storage 'storages.C'; configured: storages.A, storages.B",
      }),
    );
    await registry.close();
  });
});
