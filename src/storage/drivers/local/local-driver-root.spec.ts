import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { StorageErrorCode } from '../../errors/storage.error';
import { LocalDriver } from './local.driver';

/**
 * The local driver keeps every operation inside its root on its own, whatever key it is given:
 * `normalizeKey` refuses such keys first on the service's way, but a host or a future caller may
 * reach the driver directly. Victim files sit outside the root (beside it, and in a folder whose
 * name starts with the root's name); none is read, written or removed.
 */
describe('LocalDriver: keys outside its root', () => {
  let base: string;
  let driver: LocalDriver;
  const victims = () => [path.join(base, 'outside', 'victim.txt'), path.join(base, 'root-sibling', 'victim.txt')];

  beforeEach(async () => {
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'local-root-'));
    for (const file of victims()) {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, 'secret');
    }
    fs.writeFileSync(path.join(base, 'outside', '.~tmp.victim'), 'secret');
    driver = new LocalDriver({ root: path.join(base, 'root') });
    await driver.init();
    await driver.put('inside/ok.txt', Readable.from([Buffer.from('ok')]));
  });
  afterEach(() => fs.rmSync(base, { recursive: true, force: true }));

  // Absolute keys name files in the test's own folder: a regression must not touch the real system.
  const escaping = () => [
    '../outside/victim.txt',
    'a/../../outside/victim.txt',
    'inside/../../outside/victim.txt',
    '../root-sibling/victim.txt', // `${root}-sibling` starts with the root's path
    path.join(base, 'outside', 'victim.txt'),
    '..',
    '.',
    '',
  ];

  const refusedAsInvalidPath = async (work: () => Promise<unknown>) => {
    await expect(work()).rejects.toMatchObject({ code: StorageErrorCode.INVALID_PATH });
  };

  const untouched = () => {
    for (const file of victims()) expect([file, fs.readFileSync(file, 'utf8')]).toEqual([file, 'secret']);
    expect(fs.readFileSync(path.join(base, 'outside', '.~tmp.victim'), 'utf8')).toBe('secret');
    expect(fs.readdirSync(base).sort()).toEqual(['outside', 'root', 'root-sibling']);
    expect(fs.readdirSync(path.join(base, 'outside')).sort()).toEqual(['.~tmp.victim', 'victim.txt']);
  };

  it.each([
    ['get', (d: LocalDriver, k: string) => d.get(k)],
    ['stat', (d: LocalDriver, k: string) => d.stat(k)],
    ['exists', (d: LocalDriver, k: string) => d.exists(k)],
    ['put', (d: LocalDriver, k: string) => d.put(k, Readable.from([Buffer.from('overwritten')]))],
    ['delete', (d: LocalDriver, k: string) => d.delete(k)],
    ['copy to', (d: LocalDriver, k: string) => d.copy('inside/ok.txt', k)],
    ['copy from', (d: LocalDriver, k: string) => d.copy(k, 'inside/stolen.txt')],
  ])('%s refuses every key that leaves the root', async (_op, op) => {
    for (const key of escaping()) await refusedAsInvalidPath(() => op(driver, key));
    untouched();
    expect(fs.existsSync(path.join(base, 'root', 'inside', 'stolen.txt'))).toBe(false);
  });

  it('reads nothing outside the root, /etc/passwd included', async () => {
    for (const op of [(k: string) => driver.get(k), (k: string) => driver.stat(k), (k: string) => driver.exists(k)]) {
      await refusedAsInvalidPath(() => op('/etc/passwd'));
      await refusedAsInvalidPath(() => op('../../../../../../../../etc/passwd'));
    }
  });

  it('list and the temp-file clean-up stay inside the root too', async () => {
    const listed = async (prefix: string) => {
      const keys: string[] = [];
      for await (const o of driver.list(prefix)) keys.push(o.key);
      return keys;
    };
    await refusedAsInvalidPath(() => listed('../outside/'));
    await refusedAsInvalidPath(() => listed('a/../../outside/'));
    await refusedAsInvalidPath(() => driver.deleteTemp('../outside/.~tmp.victim'));
    await refusedAsInvalidPath(() => driver.deleteTemp(path.join(base, 'outside', '.~tmp.victim')));
    untouched();
    expect(await listed('inside/')).toEqual(['inside/ok.txt']);
  });
});
