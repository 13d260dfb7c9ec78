import fc from 'fast-check';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataSource, In } from 'typeorm';
import { isStorageError } from '../src/storage/errors/storage.error';
import { FileEntity } from '../src/storage/database/entities/file.entity';
import { LifecycleService } from '../src/storage/jobs/lifecycle.service';
import { keyHash } from '../src/storage/ledger/object-ledger';
import { RetiredObjectEntity } from '../src/storage/database/entities/retired-object.entity';
import { StorageObjectEntity } from '../src/storage/database/entities/storage-object.entity';
import { UploadPinEntity } from '../src/storage/database/entities/upload-pin.entity';
import { FakeClock, isolatedStorage, md5 } from './harness/lifecycle';
import { createTestApp, type TestApp } from './harness/test-app';

/**
 * Random interleavings of uploads (the same and different bytes, plain and by md5, with and
 * without expiry), deletes (a path, one record), clock moves, sweeps, reconciliations, reads and
 * planted crash leftovers, some run concurrently. After every step:
 *  - no upload pin is left, and a key has an object row exactly when it has records;
 *  - every unexpired record downloads intact (its md5 and size), a plain path has one record,
 *    and a read racing other steps still gets one whole version, never a mix;
 *  - every record's object is stored; every stored object is a record's, or a superseded
 *    version queued for removal (orphans exist only as planted leftovers, and none older than
 *    the grace period survives a reconciliation); after a sweep, nothing expired is left and
 *    no removal that was due is still queued;
 *  - after a step run alone, the records are exactly those a simple model predicts.
 */
describe('lifecycle under random interleavings (property)', () => {
  const RUNS = 500;
  const GRACE = 3600;
  /** Short enough that the clock moves of one run make superseded versions due. */
  const VERSION_GRACE = 20;
  const clock = new FakeClock();
  const storage = isolatedStorage();
  let t: TestApp;
  let db: DataSource;
  let lifecycle: LifecycleService;
  const stats = { runs: 0, steps: 0, concurrent: 0, ops: 0 };

  beforeAll(async () => {
    t = await createTestApp({
      clock,
      config: storage.config,
      env: { ORPHAN_GRACE_SECONDS: String(GRACE), VERSION_GRACE_SECONDS: String(VERSION_GRACE) },
    });
    db = t.app.get(DataSource);
    lifecycle = t.app.get(LifecycleService);
  });
  afterAll(async () => {
    await t.close();
    storage.remove();
  });

  type Op =
    | { kind: 'plain'; slot: number; content: number; expires: number | null }
    | { kind: 'md5'; slot: number; content: number; expires: number | null }
    | { kind: 'deletePath'; plain: boolean; index: number }
    | { kind: 'deleteRecord'; pick: number }
    | { kind: 'read'; plain: boolean; index: number }
    | { kind: 'advance'; seconds: number }
    | { kind: 'sweep' }
    | { kind: 'reconcile' }
    | { kind: 'plant'; old: boolean };

  const expires = fc.constantFrom(null, null, 3, 10, 30);
  const op: fc.Arbitrary<Op> = fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({ kind: fc.constant('plain' as const), slot: fc.nat(1), content: fc.nat(2), expires }),
    },
    {
      weight: 4,
      arbitrary: fc.record({ kind: fc.constant('md5' as const), slot: fc.nat(2), content: fc.nat(2), expires }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('deletePath' as const), plain: fc.boolean(), index: fc.nat(2) }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('deleteRecord' as const), pick: fc.nat(20) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('read' as const), plain: fc.boolean(), index: fc.nat(2) }) },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('advance' as const), seconds: fc.integer({ min: 1, max: 15 }) }),
    },
    { weight: 2, arbitrary: fc.constant({ kind: 'sweep' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'reconcile' as const }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('plant' as const), old: fc.boolean() }) },
  );
  /** A step: one op, or two or three run at once (clock moves stay out of concurrent groups). */
  const step = fc.oneof(
    { weight: 3, arbitrary: op.map((o) => [o]) },
    {
      weight: 2,
      arbitrary: fc.array(
        op.filter((o) => o.kind !== 'advance'),
        { minLength: 2, maxLength: 3 },
      ),
    },
  );

  interface ModelRecord {
    id: number;
    key: string;
    content: number;
    expires: number | null;
  }

  /** One run's world: its keys, contents, model and planted leftovers. */
  class World {
    readonly base: string;
    readonly contents: Buffer[];
    records: ModelRecord[] = [];
    strays: Array<{ key: string; mtime: number }> = [];

    constructor(run: number) {
      this.base = `${t.prefix}/r${run}`;
      this.contents = [0, 1, 2].map((i) => Buffer.from(`${this.base} content ${i} ${'#'.repeat(i * 700)}`));
    }

    plainKey = (slot: number) => `${this.base}/p${slot}.bin`;
    md5Key = (content: number) => `${md5(this.contents[content])}.txt`;
    keys = () => [0, 1].map(this.plainKey).concat([0, 1, 2].map(this.md5Key));
    live = (r: ModelRecord) => r.expires === null || r.expires > clock.now();
    contentOf = (hash: string) => this.contents.findIndex((c) => md5(c) === hash);
  }

  async function apply(w: World, o: Op, alone: boolean): Promise<void> {
    stats.ops += 1;
    const now = clock.now();
    switch (o.kind) {
      case 'plain':
      case 'md5': {
        const data = w.contents[o.content];
        const record = await t.service.uploadByFile({
          file: o.kind === 'plain' ? w.plainKey(o.slot) : `${w.base}/m${o.slot}.txt`,
          data,
          md5: o.kind === 'md5' ? md5(data) : undefined,
          expires: o.expires ?? undefined,
          user: 'prop',
        });
        if (alone) {
          if (o.kind === 'plain') w.records = w.records.filter((r) => r.key !== record.name);
          w.records.push({ id: record.id, key: record.name, content: o.content, expires: record.expires });
          expect(record.expires).toBe(o.expires === null ? null : now + o.expires * 1000);
        }
        return;
      }
      case 'deletePath': {
        const key = o.plain ? w.plainKey(o.index % 2) : w.md5Key(o.index);
        const anyLive = w.records.some((r) => r.key === key && w.live(r));
        const result = await t.service.delete(key).catch((err: unknown) => err);
        if (alone) {
          if (anyLive) expect(result).toEqual({ deleted: w.records.filter((r) => r.key === key && w.live(r)).length });
          else expect(isStorageError(result, 'E_NOT_FOUND')).toBe(true);
          w.records = w.records.filter((r) => r.key !== key);
        } else if (result instanceof Error && !isStorageError(result, 'E_NOT_FOUND')) {
          throw result;
        }
        return;
      }
      case 'deleteRecord': {
        const rows = await runRecords(w);
        if (rows.length === 0) return;
        const victim = rows[o.pick % rows.length];
        await t.service.deleteRecord(victim.id);
        if (alone) {
          w.records = w.records.filter((r) => r.id !== victim.id);
          if (!w.records.some((r) => r.key === victim.name && w.live(r))) {
            w.records = w.records.filter((r) => r.key !== victim.name);
          }
        }
        return;
      }
      case 'read': {
        const key = o.plain ? w.plainKey(o.index % 2) : w.md5Key(o.index);
        const live = w.records.filter((r) => r.key === key && w.live(r));
        const bytes = await t.service.download(key).catch((err: unknown) => err);
        if (alone) {
          if (live.length > 0) expect(md5(bytes as Buffer)).toBe(md5(w.contents[live[live.length - 1].content]));
          else expect(isStorageError(bytes, 'E_NOT_FOUND')).toBe(true);
          if (live.length === 0) w.records = w.records.filter((r) => r.key !== key);
        } else if (bytes instanceof Error) {
          if (!isStorageError(bytes, 'E_NOT_FOUND')) throw bytes;
        } else {
          expect(w.contents.map((c) => md5(c))).toContain(md5(bytes as Buffer));
        }
        return;
      }
      case 'advance':
        clock.advance(o.seconds);
        return;
      case 'sweep': {
        const report = await lifecycle.sweepExpired({ storage: storage.name });
        expect(report.failed).toBe(0);
        if (alone) {
          const expired = w.records.filter((r) => !w.live(r)).map((r) => r.id);
          const mine = new Set(w.records.map((r) => r.id));
          expect(
            report.removed
              .map((r) => r.id)
              .filter((id) => mine.has(id))
              .sort(),
          ).toEqual(expired.sort());
          w.records = w.records.filter(w.live);
        }
        // A key another step held (a concurrent sweep or upload) is skipped, left for the next run.
        if (alone) expect(report.skipped).toBe(0);
        const left = await runRecords(w);
        if (report.skipped === 0) expect(left.filter((r) => r.expires !== null && r.expires <= now)).toEqual([]);
        if (alone) expect((await queued(w)).filter((q) => q.removeAfter <= now)).toEqual([]);
        return;
      }
      case 'reconcile': {
        const report = await lifecycle.reconcile({ storage: storage.name });
        expect(report.missingObjects).toEqual([]);
        expect(report.sizeMismatches).toEqual([]);
        const limit = clock.now() - GRACE * 1000;
        for (const stray of w.strays) {
          const exists = fs.existsSync(path.join(storage.root, stray.key));
          if (stray.mtime < limit) expect([stray.key, exists]).toEqual([stray.key, false]);
        }
        w.strays = w.strays.filter((s) => s.mtime >= limit);
        return;
      }
      case 'plant': {
        const key = `${w.base}/stray-${w.strays.length}-${stats.ops}.bin`;
        const file = path.join(storage.root, key);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, 'left behind by a crash');
        const mtime = o.old ? clock.now() - (GRACE + 60) * 1000 : clock.now();
        fs.utimesSync(file, mtime / 1000, mtime / 1000);
        w.strays.push({ key, mtime });
        return;
      }
    }
  }

  /** This run's objects waiting in the removal queue. */
  async function queued(w: World): Promise<RetiredObjectEntity[]> {
    const rows = await db.getRepository(RetiredObjectEntity).find({ where: { storeFullName: storage.name } });
    return rows.filter((q) => q.objectKey.startsWith(`${w.base}/`) || w.keys().includes(q.objectKey));
  }

  async function runRecords(w: World): Promise<FileEntity[]> {
    return db.getRepository(FileEntity).find({
      where: { keyHash: In(w.keys().map((k) => keyHash(storage.name, k))) },
      order: { id: 'ASC' },
    });
  }

  /** Ends a run: its files go, so sweeps and reconciliations of later runs stay small. */
  async function clear(w: World): Promise<void> {
    for (const key of w.keys()) await t.service.delete(key).catch(() => undefined);
    for (const stray of w.strays) fs.rmSync(path.join(storage.root, stray.key), { force: true });
    fs.rmSync(path.join(storage.root, w.base), { recursive: true, force: true });
  }

  async function checkInvariants(w: World, alone: boolean): Promise<void> {
    const records = await runRecords(w);
    const pins = await db
      .getRepository(UploadPinEntity)
      .createQueryBuilder('p')
      .innerJoin(StorageObjectEntity, 'o', 'o.keyHash = p.keyHash')
      .where('o.storeFullName = :s', { s: storage.name })
      .getCount();
    expect(pins).toBe(0);
    const now = clock.now();
    const rows = await db
      .getRepository(StorageObjectEntity)
      .find({ where: { keyHash: In(w.keys().map((k) => keyHash(storage.name, k))) } });
    const downloads: Array<Promise<void>> = [];
    const waiting = new Set((await queued(w)).map((q) => q.objectKey));
    for (const key of w.keys()) {
      const mine = records.filter((r) => r.name === key);
      const onDisk = mine.every((r) => fs.existsSync(path.join(storage.root, r.objectKey)));
      expect([key, rows.some((r) => r.name === key), onDisk]).toEqual([key, mine.length > 0, true]);
      if (!key.startsWith(w.base) && mine.length === 0) {
        expect([key, fs.existsSync(path.join(storage.root, key))]).toEqual([key, waiting.has(key)]);
      }
      if (key.startsWith(w.base)) expect(mine.length).toBeLessThanOrEqual(1);
      const live = mine.filter((r) => r.expires === null || r.expires > now);
      if (live.length === 0) continue;
      downloads.push(
        t.service.download(key).then((bytes) => {
          for (const r of live) expect([r.id, md5(bytes), bytes.length]).toEqual([r.id, r.md5, r.size]);
        }),
      );
    }
    await Promise.all(downloads);
    const planted = new Set(w.strays.map((s) => s.key));
    const dir = path.join(storage.root, w.base);
    const files = fs.existsSync(dir) ? fs.readdirSync(dir).map((f) => `${w.base}/${f}`) : [];
    for (const file of files) {
      const known = planted.has(file) || waiting.has(file) || records.some((r) => r.objectKey === file);
      expect([file, known]).toEqual([file, true]);
    }
    if (alone) {
      expect(records.map((r) => [r.id, r.name, r.expires])).toEqual(
        [...w.records].sort((a, b) => a.id - b.id).map((r) => [r.id, r.key, r.expires]),
      );
    } else {
      w.records = records.map((r) => ({ id: r.id, key: r.name, content: w.contentOf(r.md5), expires: r.expires }));
    }
  }

  it(`holds over ${RUNS} random interleavings`, async () => {
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 3, maxLength: 10 }), async (steps) => {
        const w = new World(stats.runs++);
        for (const group of steps) {
          stats.steps += 1;
          const alone = group.length === 1;
          if (alone) {
            await apply(w, group[0], true);
          } else {
            stats.concurrent += 1;
            const outcomes = await Promise.allSettled(group.map((o) => apply(w, o, false)));
            // Nothing in a group may fail: plain uploads of one path no longer exclude each other.
            for (const outcome of outcomes) if (outcome.status === 'rejected') throw outcome.reason;
          }
          await checkInvariants(w, alone);
        }
        await clear(w);
      }),
      { numRuns: RUNS },
    );
    console.log(
      `lifecycle property: ${stats.runs} runs, ${stats.steps} steps (${stats.concurrent} concurrent groups), ` +
        `${stats.ops} operations, ${((Date.now() - started) / 1000).toFixed(1)} s ` +
        `on ${process.env.DB_URL ? 'MySQL' : 'SQLite'}`,
    );
    expect(stats.runs).toBeGreaterThanOrEqual(RUNS);
  }, 300_000);
});
