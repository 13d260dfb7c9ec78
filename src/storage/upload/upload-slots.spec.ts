import type { ResolvedStorageOptions } from '../options/resolved-options';
import { UploadSlots } from './upload-slots';

function slots(maxConcurrent = 0, maxConcurrentPerUser = 0): UploadSlots {
  return new UploadSlots({ uploads: { maxConcurrent, maxConcurrentPerUser } } as ResolvedStorageOptions);
}

describe('UploadSlots.settled (what shutdown waits for)', () => {
  it('is settled at once when no upload runs', async () => {
    await expect(slots().settled(10)).resolves.toBe(true);
  });

  it('waits for the last upload to give its slot back, counting a slot given back twice once', async () => {
    const s = slots();
    const first = s.take('alice');
    const second = s.take(undefined);
    let settled: boolean | undefined;
    const waiting = s.settled(5000).then((value) => (settled = value));
    first();
    first();
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBeUndefined();
    second();
    await waiting;
    expect(settled).toBe(true);
  });

  it('answers false after the time given while an upload still runs', async () => {
    const s = slots();
    const release = s.take('alice');
    await expect(s.settled(20)).resolves.toBe(false);
    release();
    await expect(s.settled(20)).resolves.toBe(true);
  });

  it('still caps uploads in flight, and frees the cap as slots come back', () => {
    const s = slots(1);
    const release = s.take(undefined);
    expect(() => s.take(undefined)).toThrow('the service is taking as many uploads as it can');
    release();
    expect(() => s.take(undefined)()).not.toThrow();
  });
});
