import { StorageErrorCode } from '../../errors/storage.error';
import type { ObjectStat } from '../storage-driver';
import { toStorageError } from './backend-errors';
import { CloudDriverBase } from './cloud-driver.base';

describe('CloudDriverBase', () => {
  class Fake extends CloudDriverBase {
    protected readonly backend = 'Fake';
    constructor(
      publicUrl: string | undefined,
      private readonly result: () => Promise<ObjectStat>,
    ) {
      super({ publicUrl });
    }
    protected mapError(err: unknown, key: string): Error {
      return toStorageError(err, key, this.backend, { status: (err as { status?: number }).status });
    }
    stat(key: string): Promise<ObjectStat> {
      return this.call(key, () => this.result());
    }
  }

  it('builds public URLs with each segment encoded, or null without a base', () => {
    const stat = async () => ({ key: 'k', size: 0, lastModified: new Date() });
    expect(new Fake('https://cdn.example/files/', stat).publicUrl('a b/ü#?.txt')).toBe(
      'https://cdn.example/files/a%20b/%C3%BC%23%3F.txt',
    );
    expect(new Fake(undefined, stat).publicUrl('a')).toBeNull();
  });

  it('answers exists from stat: false on E_NOT_FOUND, other failures rethrown', async () => {
    const fails = (status: number) => async () => Promise.reject(Object.assign(new Error('x'), { status }));
    expect(await new Fake(undefined, async () => ({ key: 'k', size: 1, lastModified: new Date() })).exists('k')).toBe(
      true,
    );
    expect(await new Fake(undefined, fails(404)).exists('k')).toBe(false);
    await expect(new Fake(undefined, fails(403)).exists('k')).rejects.toMatchObject({
      code: StorageErrorCode.ACCESS_DENIED,
    });
  });
});
