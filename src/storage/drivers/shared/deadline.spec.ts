import { type StorageError, StorageErrorCode } from '../../errors/storage.error';
import { withDeadline } from './deadline';

describe('withDeadline', () => {
  it('rejects with E_BACKEND_UNAVAILABLE and aborts the signal when time is up', async () => {
    let signal: AbortSignal | undefined;
    const started = Date.now();
    const err = await withDeadline(50, 'S3', (s) => {
      signal = s;
      return new Promise(() => undefined);
    }).catch((e: unknown) => e);
    expect((err as StorageError).code).toBe(StorageErrorCode.BACKEND_UNAVAILABLE);
    expect(signal?.aborted).toBe(true);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('resolves with the answer in time', async () => {
    await expect(withDeadline(1000, 'S3', async () => 42)).resolves.toBe(42);
  });
});
