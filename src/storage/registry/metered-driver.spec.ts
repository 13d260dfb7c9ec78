import { Readable } from 'node:stream';
import { MemoryDriver } from '../drivers/memory/memory.driver';
import { StorageError, StorageErrorCode } from '../errors/storage.error';
import { backendFailureCode, meteredDriver } from './metered-driver';

/** A body that sends a few bytes, then fails with `err`. */
function failingBody(err: Error): Readable {
  return new Readable({
    read() {
      this.push(Buffer.from('partial'));
      this.destroy(err);
    },
  });
}

describe('meteredDriver', () => {
  let failures: Array<[string, string]>;
  let driver: MemoryDriver;
  beforeEach(() => {
    failures = [];
    driver = meteredDriver(new MemoryDriver(), (operation, code) => failures.push([operation, code])) as MemoryDriver;
  });

  it('passes calls, results and properties through, and counts nothing that succeeded', async () => {
    await driver.put('a/one.txt', Readable.from([Buffer.from('one')]));
    expect((await driver.stat('a/one.txt')).size).toBe(3);
    const keys: string[] = [];
    for await (const object of driver.list('a/')) keys.push(object.key);
    expect(keys).toEqual(['a/one.txt']);
    expect(driver.type).toBe('storages.MemoryType');
    expect(driver).toBeInstanceOf(MemoryDriver);
    expect(failures).toEqual([]);
  });

  it('hands out one wrapper per method, not a new function at each access', () => {
    expect(driver.get).toBe(driver.get);
    expect(driver.exists).toBe(driver.exists);
    expect(driver.get).not.toBe(driver.exists);
  });

  it('rethrows a missing key unchanged without counting it', async () => {
    await expect(driver.stat('missing.txt')).rejects.toMatchObject({ code: StorageErrorCode.NOT_FOUND });
    await expect(driver.get('missing.txt')).rejects.toMatchObject({ code: StorageErrorCode.NOT_FOUND });
    expect(failures).toEqual([]);
  });

  it('does not count a body the client aborted, and counts what the driver could not classify', async () => {
    const aborted = new StorageError(StorageErrorCode.ABORTED, 'the client went away');
    await expect(driver.put('b.txt', failingBody(aborted))).rejects.toBe(aborted);
    expect(failures).toEqual([]);
    const unknown = await driver.put('c.txt', failingBody(new Error('disk on fire'))).catch((err: unknown) => err);
    const code = backendFailureCode(unknown);
    expect(code).toBeDefined();
    expect(failures).toEqual([['put', code]]);
  });
});

describe('backendFailureCode', () => {
  it.each([
    [StorageErrorCode.BACKEND_UNAVAILABLE, StorageErrorCode.BACKEND_UNAVAILABLE],
    [StorageErrorCode.INSUFFICIENT_STORAGE, StorageErrorCode.INSUFFICIENT_STORAGE],
    [StorageErrorCode.ACCESS_DENIED, StorageErrorCode.ACCESS_DENIED],
    [StorageErrorCode.NOT_FOUND, undefined],
    [StorageErrorCode.PRECONDITION_FAILED, undefined],
    [StorageErrorCode.TOO_LARGE, undefined],
    [StorageErrorCode.ABORTED, undefined],
  ])('%s counts as %s', (code, counted) => {
    expect(backendFailureCode(new StorageError(code, 'x'))).toBe(counted);
  });

  it('counts an error no driver mapped as E_INTERNAL', () => {
    expect(backendFailureCode(new TypeError('bug'))).toBe(StorageErrorCode.INTERNAL);
  });
});
