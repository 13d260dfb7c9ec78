import * as fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { LocalDriver } from '../../src/storage/drivers/local/local.driver';
import { StorageError, StorageErrorCode } from '../../src/storage/errors/storage.error';
import { snapshotTree } from '../harness/tree-snapshot';
import { bufferStream, buildDriver, readAll } from './contract-support';

/**
 * What only a filesystem driver has to promise: on its own (called directly, without the
 * service's key normalisation) it never reaches outside its root, neither through a key that
 * climbs out nor through a symbolic link planted inside the root, on any operation.
 */
describe('local disk driver: its root is a boundary', () => {
  let base: string;
  let root: string;
  let outside: string;
  let driver: LocalDriver;

  beforeEach(async () => {
    base = await mkdtemp(path.join(tmpdir(), 'local-root-'));
    root = path.join(base, 'root');
    outside = path.join(base, 'outside');
    fs.mkdirSync(path.join(outside, 'dir', 'sub'), { recursive: true });
    fs.writeFileSync(path.join(outside, 'secret.txt'), 'outside secret');
    fs.writeFileSync(path.join(outside, 'dir', 'inner.txt'), 'outside inner');
    fs.writeFileSync(path.join(outside, 'dir', '.~tmp.old'), 'an outside file named like a temp file');
    const old = new Date(Date.now() - 86_400_000);
    fs.utimesSync(path.join(outside, 'dir', '.~tmp.old'), old, old);
    driver = await buildDriver<LocalDriver>('storages.Local', { type: 'storages.LocalType', root }, base);
    fs.mkdirSync(path.join(root, 'a', 'b'), { recursive: true });
    fs.writeFileSync(path.join(root, 'a', 'real.txt'), 'inside');
    // Links to a folder and to a file outside, at the root and nested.
    fs.symlinkSync(path.join(outside, 'dir'), path.join(root, 'dirlink'));
    fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(root, 'filelink.txt'));
    fs.symlinkSync(path.join(outside, 'dir'), path.join(root, 'a', 'b', 'dirlink'));
    fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(root, 'a', 'b', 'filelink.txt'));
  });
  afterEach(() => rm(base, { recursive: true, force: true }));

  async function outcome(call: () => Promise<unknown>): Promise<string> {
    try {
      const value = await call();
      return `resolved ${JSON.stringify(value instanceof Buffer ? value.toString() : value)}`;
    } catch (err) {
      return err instanceof StorageError ? err.code : `raw ${String(err)}`;
    }
  }

  // Absolute keys point into this test's own folder: a driver that failed this test must not
  // be able to harm the machine running it.
  it.each([
    ['../escape.txt', () => '../escape.txt'],
    ['a/../../escape.txt', () => 'a/../../escape.txt'],
    ['an absolute path to a new file', () => path.join(base, 'escape.txt')],
    ['an absolute path to an existing file', () => path.join(outside, 'secret.txt')],
  ])('refuses the key %s on every operation with E_INVALID_PATH, touching nothing outside', async (_label, keyOf) => {
    const key = keyOf();
    const before = snapshotTree(base, ['root']);
    const calls: [string, () => Promise<unknown>][] = [
      ['put', () => driver.put(key, bufferStream('x'))],
      ['get', async () => readAll(await driver.get(key))],
      ['stat', () => driver.stat(key)],
      ['exists', () => driver.exists(key)],
      ['delete', () => driver.delete(key)],
      ['copy from', () => driver.copy(key, 'a/copy.txt')],
      ['copy to', () => driver.copy('a/real.txt', key)],
      ['list', async () => (await driver.list(key)[Symbol.asyncIterator]().next()).value],
    ];
    const results = [];
    for (const [label, call] of calls) results.push([label, await outcome(call)]);
    expect(results).toEqual(calls.map(([label]) => [label, StorageErrorCode.INVALID_PATH]));
    expect(snapshotTree(base, ['root'])).toEqual(before);
    expect(fs.existsSync(path.join(base, 'escape.txt'))).toBe(false);
  });

  const DENIED = StorageErrorCode.ACCESS_DENIED;
  it.each([
    ['at the root', ''],
    ['nested', 'a/b/'],
  ])('never follows a link %s: every operation is refused and the outside stays as it was', async (_label, at) => {
    const before = snapshotTree(outside);
    const calls: [string, () => Promise<unknown>, string][] = [
      ['put into a folder link', () => driver.put(`${at}dirlink/new.txt`, bufferStream('x')), DENIED],
      [
        'put into a new folder under a link',
        () => driver.put(`${at}dirlink/sub/deeper/new.txt`, bufferStream('x')),
        DENIED,
      ],
      ['put over a file link', () => driver.put(`${at}filelink.txt`, bufferStream('overwritten')), DENIED],
      ['get through a folder link', async () => readAll(await driver.get(`${at}dirlink/inner.txt`)), DENIED],
      ['get a file link', async () => readAll(await driver.get(`${at}filelink.txt`)), DENIED],
      [
        'ranged get of a file link',
        async () => readAll(await driver.get(`${at}filelink.txt`, { range: { start: 0, end: 3 } })),
        DENIED,
      ],
      ['stat through a folder link', () => driver.stat(`${at}dirlink/inner.txt`), DENIED],
      ['stat a file link', () => driver.stat(`${at}filelink.txt`), DENIED],
      ['exists of a file link', () => driver.exists(`${at}filelink.txt`), DENIED],
      ['delete through a folder link', () => driver.delete(`${at}dirlink/inner.txt`), DENIED],
      ['delete a file link', () => driver.delete(`${at}filelink.txt`), DENIED],
      ['copy from a file link', () => driver.copy(`${at}filelink.txt`, 'a/stolen.txt'), DENIED],
      ['copy into a folder link', () => driver.copy('a/real.txt', `${at}dirlink/planted.txt`), DENIED],
      ['copy over a file link', () => driver.copy('a/real.txt', `${at}filelink.txt`), DENIED],
      [
        'list through a folder link',
        async () => (await driver.list(`${at}dirlink/`)[Symbol.asyncIterator]().next()).value,
        DENIED,
      ],
      ['delete a temp file through a folder link', () => driver.deleteTemp(`${at}dirlink/.~tmp.old`), DENIED],
    ];
    const results = [];
    for (const [label, call] of calls) results.push([label, await outcome(call)]);
    expect(results).toEqual(calls.map(([label, , code]) => [label, code]));
    expect(snapshotTree(outside)).toEqual(before);
    // The links themselves are left as they were, and nothing was stolen into the root.
    expect(fs.readlinkSync(path.join(root, `${at}filelink.txt`))).toBe(path.join(outside, 'secret.txt'));
    expect(fs.existsSync(path.join(root, 'a', 'stolen.txt'))).toBe(false);
  });

  it('lists and walks for temp files without entering links (what the reconciler sees)', async () => {
    const keys: string[] = [];
    for await (const item of driver.list('')) keys.push(item.key);
    expect(keys).toEqual(['a/real.txt']);
    const temps: string[] = [];
    for await (const item of driver.listTemp()) temps.push(item.key);
    expect(temps).toEqual([]);
  });

  it('still works inside the root beside the links', async () => {
    await driver.put('a/b/ok.txt', bufferStream('fine'));
    expect((await readAll(await driver.get('a/b/ok.txt'))).toString()).toBe('fine');
    await driver.copy('a/b/ok.txt', 'a/b/copy.txt');
    expect((await readAll(await driver.get('a/b/copy.txt'))).toString()).toBe('fine');
    await driver.delete('a/b/ok.txt');
    expect(await driver.exists('a/b/ok.txt')).toBe(false);
  });

  it('allows a root that is itself a link (the operator chose it)', async () => {
    const linkedRoot = path.join(base, 'linked-root');
    fs.symlinkSync(root, linkedRoot);
    const viaLink = await buildDriver<LocalDriver>(
      'storages.Linked',
      { type: 'storages.LocalType', root: linkedRoot },
      base,
    );
    await viaLink.put('a/via.txt', bufferStream('via'));
    expect(fs.readFileSync(path.join(root, 'a', 'via.txt'), 'utf8')).toBe('via');
  });
});
