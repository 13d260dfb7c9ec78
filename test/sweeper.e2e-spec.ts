import { LifecycleService, type SweepReport } from '../src/storage/jobs/lifecycle.service';
import { ObjectLedger } from '../src/storage/ledger/object-ledger';
import type { ObjectRef } from '../src/storage/ledger/key-locks';
import { enc, FakeClock, isolatedStorage, keyState, md5, stored } from './harness/lifecycle';
import { createTestApp, type TestApp } from './harness/test-app';

/**
 * The sweeper: removes expired files and nothing else, idempotently; two sweepers at once (two
 * app instances on separate connections when DB_URL points at MySQL, two runs in one app on
 * SQLite) remove each expired file exactly once and never a file re-uploaded meanwhile.
 */
describe('expiry sweeper', () => {
  const mysql = Boolean(process.env.DB_URL);
  const clock = new FakeClock();
  const storage = isolatedStorage();
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    const options = { clock, config: storage.config, env: { SWEEP_BATCH_SIZE: '7' } };
    a = await createTestApp(options);
    b = mysql ? await createTestApp(options) : a;
  });
  afterAll(async () => {
    if (b !== a) await b.close();
    await a.close();
    storage.remove();
  });

  const sweep = (t: TestApp) => t.app.get(LifecycleService).sweepExpired({ storage: storage.name });
  const key = (name: string) => `${a.prefix}/${name}`;

  async function put(k: string, body: string, query = ''): Promise<{ id: number; name: string }> {
    const res = await a.http
      .put(`/storage/files/${enc(k)}${query}`)
      .set('Authorization', a.auth)
      .set('Content-Type', 'text/plain')
      .send(body);
    expect(res.status).toBe(201);
    return res.body;
  }

  async function download(k: string): Promise<string | null> {
    const res = await a.http.get(`/storage/files/${enc(k)}`).set('Authorization', a.auth);
    return res.status === 200 ? res.text : null;
  }

  const removedIds = (...reports: SweepReport[]) => reports.flatMap((r) => r.removed.map((f) => f.id));

  it('removes expired files and nothing else, and a second run finds nothing', async () => {
    const expired: number[] = [];
    const kept: Array<{ k: string; body: string }> = [];
    for (let i = 0; i < 12; i++) expired.push((await put(key(`solo/old-${i}.txt`), `old ${i}`, '?expires=60')).id);
    for (let i = 0; i < 6; i++) {
      kept.push({ k: key(`solo/later-${i}.txt`), body: `later ${i}` });
      await put(kept[kept.length - 1].k, `later ${i}`, '?expires=3600');
      kept.push({ k: key(`solo/forever-${i}.txt`), body: `forever ${i}` });
      await put(kept[kept.length - 1].k, `forever ${i}`);
    }
    const shared = `shared ${a.prefix}`;
    const sharedKey = `${md5(shared)}.txt`;
    expired.push((await put(key('solo/s1.txt'), shared, `?md5=${md5(shared)}&expires=60`)).id);
    await put(key('solo/s2.txt'), shared, `?md5=${md5(shared)}`);
    clock.advance(61);

    const first = await sweep(a);
    expect(removedIds(first).sort()).toEqual([...expired].sort());
    expect(first.objectsRemoved).toBe(12);
    for (let i = 0; i < 12; i++) expect(stored(a, key(`solo/old-${i}.txt`), storage.root)).toBe(false);
    for (const { k, body } of kept) expect(await download(k)).toBe(body);
    expect(await download(sharedKey)).toBe(shared);
    expect((await keyState(a, sharedKey, storage.name)).records).toHaveLength(1);

    const second = await sweep(a);
    expect(second.removed).toEqual([]);
    expect(second.objectsRemoved).toBe(0);
  });

  it(`two sweepers at once remove each expired file exactly once (${mysql ? 'two apps on MySQL' : 'SQLite'})`, async () => {
    const expired = new Map<number, string>();
    for (let i = 0; i < 40; i++) {
      const k = key(`pair/old-${i}.txt`);
      expired.set((await put(k, `old ${i}`, '?expires=30')).id, k);
    }
    const shared = `pair shared ${a.prefix}`;
    for (let i = 0; i < 3; i++) {
      const r = await put(key(`pair/shared-${i}.txt`), shared, `?md5=${md5(shared)}&expires=30`);
      expired.set(r.id, r.name);
    }
    const keep = await put(key('pair/keep.txt'), 'keep me');
    clock.advance(31);

    const [ra, rb] = await Promise.all([sweep(a), sweep(b)]);
    const ids = removedIds(ra, rb);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.sort()).toEqual([...expired.keys()].sort());
    // Each object goes once; which run removes it (right after its batch, or from the queue at
    // the end of the other run) depends on the interleaving.
    expect(ra.objectsRemoved + rb.objectsRemoved + ra.retiredRemoved + rb.retiredRemoved).toBe(41);
    expect(ra.failed + rb.failed).toBe(0);
    for (const k of new Set(expired.values())) {
      expect(stored(a, k, storage.root)).toBe(false);
      expect(await keyState(a, k, storage.name)).toEqual({ records: [], row: null, pins: 0 });
    }
    expect(await download(keep.name)).toBe('keep me');
  });

  it('never removes a file re-uploaded while the sweepers run', async () => {
    const keys = Array.from({ length: 30 }, (_, i) => key(`race/f-${i}.txt`));
    const oldIds = new Set<number>();
    for (const k of keys) oldIds.add((await put(k, `old ${k}`, '?expires=30')).id);
    clock.advance(31);

    const reuploaded = keys.filter((_, i) => i % 3 === 0);
    const [ra, rb] = await Promise.all([sweep(a), sweep(b), ...reuploaded.map((k) => put(k, `new ${k}`))] as const);
    const ids = removedIds(ra, rb);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id) => oldIds.has(id))).toBe(true);
    for (const k of keys) {
      const fresh = reuploaded.includes(k);
      expect([k, await download(k)]).toEqual([k, fresh ? `new ${k}` : null]);
      expect([k, stored(a, k, storage.root)]).toEqual([k, fresh]);
      expect((await keyState(a, k, storage.name)).records).toHaveLength(fresh ? 1 : 0);
    }
  });

  it('a file picked for deletion, then re-uploaded before its turn, is kept', async () => {
    const plain = key('picked/plain.txt');
    const data = `picked shared ${a.prefix}`;
    await put(plain, 'old plain', '?expires=30');
    const oldShared = await put(key('picked/s.txt'), data, `?md5=${md5(data)}&expires=30`);
    clock.advance(31);

    // Hold each key between being picked (selected as expired) and being handled (locked).
    const objects = a.app.get(ObjectLedger);
    const original = objects.removeExpiredBatch.bind(objects);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let picked = 0;
    const spy = jest.spyOn(objects, 'removeExpiredBatch').mockImplementation(async (refs: ObjectRef[]) => {
      picked += 1;
      await gate;
      return original(refs);
    });
    try {
      const running = sweep(a);
      while (picked === 0) await new Promise((r) => setTimeout(r, 5));
      const fresh = await put(plain, 'new plain');
      const another = await put(key('picked/s2.txt'), data, `?md5=${md5(data)}`);
      release();
      const report = await running;
      expect(removedIds(report)).toEqual([oldShared.id]);
      expect(await download(plain)).toBe('new plain');
      expect((await keyState(a, plain, storage.name)).records.map((r) => r.id)).toEqual([fresh.id]);
      expect(await download(oldShared.name)).toBe(data);
      expect((await keyState(a, oldShared.name, storage.name)).records.map((r) => r.id)).toEqual([another.id]);
    } finally {
      spy.mockRestore();
    }
  });

  (mysql ? it : it.skip)(
    'on MySQL, hands the keys of a window of expired records to its batches in key order, each key once',
    async () => {
      // Keys are md5s, so expiry order is a random order of keys: each key of a batch then needs
      // its own page of the key indexes, mostly not in the buffer pool. In key order a batch's keys
      // share pages.
      const ids: number[] = [];
      for (let i = 0; i < 30; i++) ids.push((await put(key(`ordered/f-${i}.txt`), `f ${i}`, `?expires=${30 + i}`)).id);
      clock.advance(61);
      const objects = a.app.get(ObjectLedger);
      const batches: string[][] = [];
      const original = objects.removeExpiredBatch.bind(objects);
      const spy = jest.spyOn(objects, 'removeExpiredBatch').mockImplementation((refs: ObjectRef[]) => {
        batches.push(refs.map((r) => r.keyHash));
        return original(refs);
      });
      try {
        const report = await sweep(a);
        expect(removedIds(report).sort()).toEqual([...ids].sort());
      } finally {
        spy.mockRestore();
      }
      const handed = batches.flat();
      expect(batches.map((b) => b.length)).toEqual([7, 7, 7, 7, 2]);
      expect(handed).toEqual([...new Set(handed)].sort());
    },
  );

  it('runs on its schedule when switched on, and stops with the app', async () => {
    const scheduled = await createTestApp({
      clock,
      config: storage.config,
      env: { SWEEP_ENABLED: 'true', SWEEP_CRON: '* * * * * *', RECONCILE_ENABLED: 'false' },
    });
    try {
      const k = key('scheduled/tick.txt');
      const res = await scheduled.http
        .put(`/storage/files/${enc(k)}?expires=5`)
        .set('Authorization', scheduled.auth)
        .send('tick');
      expect(res.status).toBe(201);
      clock.advance(6);
      const deadline = Date.now() + 5000;
      const swept = async () =>
        (await keyState(scheduled, k, storage.name)).records.length === 0 && !stored(scheduled, k, storage.root);
      while (!(await swept()) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      expect((await keyState(scheduled, k, storage.name)).records).toEqual([]);
      expect(stored(scheduled, k, storage.root)).toBe(false);
    } finally {
      await scheduled.close();
    }
  });

  it('refuses a bad cron expression at start-up, naming the setting', async () => {
    await expect(
      // On SQLite even in the MySQL suite: an app that fails to start is never closed, and its pool would linger.
      createTestApp({
        config: storage.config,
        env: { DB_URL: '', SWEEP_ENABLED: 'true', SWEEP_CRON: 'every tuesday' },
      }),
    ).rejects.toThrow(/lifecycle\.sweepCron/);
  });
});
