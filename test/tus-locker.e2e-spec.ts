import { DataSource } from 'typeorm';
import { ResumableLockEntity } from '../src/storage/database/entities/resumable-lock.entity';
import { DatabaseLocker, LEASE_MS } from '../src/storage/tus/database-locker';
import { FakeClock } from './harness/lifecycle';
import { createTestApp, type TestApp } from './harness/test-app';

/**
 * The lease locker behind tus, on the test's database: one holder at a time; a waiter asks the
 * holder to let go; a lease of another host's process is taken over only once it was not renewed
 * for `LEASE_MS`; unlocking frees it at once.
 */
describe('DatabaseLocker', () => {
  const clock = new FakeClock();
  let t: TestApp;
  let locker: DatabaseLocker;

  beforeAll(async () => {
    t = await createTestApp({ clock });
    locker = t.app.get(DatabaseLocker);
  });
  afterAll(() => t.close());

  const id = () => `${t.prefix}${Math.random().toString(16).slice(2)}`;

  it('lets one request hold an upload; a waiter asks it to let go and gets it once it unlocks', async () => {
    const upload = id();
    const first = locker.newLock(upload);
    let asked = 0;
    await first.lock(new AbortController().signal, () => {
      asked += 1;
      void first.unlock();
    });
    const second = locker.newLock(upload);
    const started = Date.now();
    await second.lock(new AbortController().signal, () => undefined);
    expect(asked).toBe(1);
    expect(Date.now() - started).toBeLessThan(5_000);
    await second.unlock();
    expect(
      await t.app
        .get(DataSource)
        .getRepository(ResumableLockEntity)
        .findOne({ where: { id: upload } }),
    ).toBeNull();
  });

  it('a waiter gives up when its request is aborted', async () => {
    const upload = id();
    const holder = locker.newLock(upload);
    await holder.lock(new AbortController().signal, () => undefined);
    const abort = new AbortController();
    const waiting = locker.newLock(upload).lock(abort.signal, () => undefined);
    setTimeout(() => abort.abort(), 300);
    await expect(waiting).rejects.toMatchObject({ status_code: 500 });
    await holder.unlock();
  });

  it("takes over another host's lease only after it went unrenewed for the lease time", async () => {
    const upload = id();
    const repo = t.app.get(DataSource).getRepository(ResumableLockEntity);
    await repo.insert({
      id: upload,
      owner: 'elsewhere/4242/0a0b0c#1',
      expiresAt: clock.now() + LEASE_MS,
      releaseRequested: 0,
    });
    expect(await locker.tryTake(upload, 'me#1')).toBe(false);
    clock.advance(LEASE_MS / 1000 + 1);
    expect(await locker.tryTake(upload, 'me#1')).toBe(true);
    expect((await repo.findOne({ where: { id: upload } }))?.owner).toBe('me#1');
    await locker.release(upload, 'me#1');
  });

  it('a dead process of this host loses its lease at once', async () => {
    const upload = id();
    const repo = t.app.get(DataSource).getRepository(ResumableLockEntity);
    const [host] = (await import('../src/storage/ledger/process-identity')).PROCESS_IDENTITY.split('/');
    // A pid that cannot be running (above the kernel's pid_max).
    await repo.insert({
      id: upload,
      owner: `${host}/99999999/0a0b0c#1`,
      expiresAt: clock.now() + LEASE_MS,
      releaseRequested: 0,
    });
    expect(await locker.tryTake(upload, 'me#2')).toBe(true);
    await locker.release(upload, 'me#2');
  });
});
