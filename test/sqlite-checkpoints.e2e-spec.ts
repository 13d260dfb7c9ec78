import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { DataSource } from 'typeorm';
import { CHECKPOINT_INTERVAL_MS, RESTART_PAGES, SqliteCheckpointer } from '../src/app/sqlite-checkpointer';
import { KeyLocks } from '../src/storage/ledger/key-locks';
import { createTestApp, type TestApp } from './harness/test-app';
import { eventually } from './harness/util';

/**
 * The embedded database's WAL is checkpointed by a worker thread, not by a commit on the event
 * loop: the service's connection only checkpoints as a backstop past 16,384 pages, and the WAL is
 * copied back into the database within a few hundred milliseconds of the writes that made it.
 */
const onSqlite = process.env.DB_URL ? describe.skip : describe;

onSqlite('SQLite WAL checkpoints off the event loop', () => {
  let t: TestApp;
  beforeAll(async () => (t = await createTestApp()));
  afterAll(() => t?.close());

  it('checkpoints what uploads wrote from the worker; the service connection only as a backstop', async () => {
    const db = t.app.get(DataSource);
    expect(await db.query('PRAGMA wal_autocheckpoint')).toEqual([{ wal_autocheckpoint: 16384 }]);
    for (let i = 0; i < 40; i++) {
      await t.http
        .put(`/storage/files/${t.prefix}/wal/${i}.txt`)
        .set('Authorization', t.auth)
        .send(`body ${i}`)
        .expect(201);
    }
    const checkpointer = t.app.get(SqliteCheckpointer);
    // Everything in the WAL copied back (PASSIVE: nothing busy, every page checkpointed).
    let last: Awaited<ReturnType<SqliteCheckpointer['lastCheckpoint']>> = null;
    const copied = await eventually(async () => {
      last = await checkpointer.lastCheckpoint();
      return last !== null && last.log > 0 && last.checkpointed === last.log;
    });
    expect({ copied, last }).toMatchObject({ copied: true, last: { busy: 0 } });
    const wal = path.join(t.dataDir, 'storage.sqlite-wal');
    expect(fs.existsSync(wal)).toBe(true);
  });

  it("never starts the WAL over from the service's connection: that write syncs the WAL header on the event loop", async () => {
    // SQLite starts the WAL over at the first write that begins with all of it copied back, and
    // syncs its new header first, in that write: on the service's connection an fsync on the event
    // loop, as long as the disk takes under load (the upload bench's largest event-loop delay).
    // The worker's reader, held in the WAL, keeps the service's writes appending; the worker
    // starts the WAL over itself, between writes, once it is long.
    const checkpointer = t.app.get(SqliteCheckpointer);
    const wal = path.join(t.dataDir, 'storage.sqlite-wal');
    const put = (name: string) =>
      t.http.put(`/storage/files/${t.prefix}/restart/${name}`).set('Authorization', t.auth).send(name).expect(201);
    await put('first.txt');
    const salts = [walSalt(wal)];
    for (let i = 0; i < 4; i++) {
      // Every page copied back (by a checkpoint after the write: the worker's report is the last
      // one's): the state in which the next write would start the WAL over.
      await new Promise((resolve) => setTimeout(resolve, 3 * CHECKPOINT_INTERVAL_MS));
      const copied = await eventually(async () => {
        const last = await checkpointer.lastCheckpoint();
        return last !== null && last.log > 0 && last.checkpointed === last.log;
      });
      expect(copied).toBe(true);
      await put(`${i}.txt`);
      salts.push(walSalt(wal));
    }
    expect(new Set(salts).size).toBe(1);
  });

  it('starts the WAL over under writes that never pause, before the backstop checkpoints on the event loop', async () => {
    // A write every millisecond, through the writers' queue, as a sweep's transactions go:
    // the worker copies the WAL back, but SQLite starts it over only at a write that begins with
    // all of it copied. Without a checkpoint between writes the WAL file grew to the backstop's
    // 16,384 pages (64 MiB) and the service connection checkpointed it on the event loop.
    const db = t.app.get(DataSource);
    const locks = t.app.get(KeyLocks);
    await db.query('CREATE TABLE wal_fill (x BLOB)');
    const wal = path.join(t.dataDir, 'storage.sqlite-wal');
    let largest = 0;
    const salts = new Set([walSalt(wal)]);
    for (let i = 0; i < 4000; i++) {
      // 16 KiB: about 5 pages of the WAL per write, 20,000 in all, at most one write a millisecond.
      await locks.exclusive(() => db.query('INSERT INTO wal_fill (x) VALUES (randomblob(16384))'));
      largest = Math.max(largest, fs.statSync(wal).size);
      salts.add(walSalt(wal));
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    expect(largest).toBeGreaterThan(RESTART_PAGES * 4096);
    expect(largest).toBeLessThan(12_288 * 4096);
    // Started over (by the worker: a new salt in the header) and written from the start again.
    expect(salts.size).toBeGreaterThan(1);
  });

  it('stops its worker when the application closes', async () => {
    const app = await createTestApp();
    const checkpointer = app.app.get(SqliteCheckpointer);
    // The thread itself must end (unref'd, a worker left running would not be noticed otherwise).
    const worker = (checkpointer as unknown as { worker: Worker }).worker;
    const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
    await app.close();
    const code = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('running'), 3000))]);
    expect(code).toBe(0);
    expect(await checkpointer.lastCheckpoint()).toBeNull();
  });
});

/** The WAL header's first salt: SQLite changes it each time the WAL starts over. */
function walSalt(wal: string): string {
  const fd = fs.openSync(wal, 'r');
  try {
    const header = Buffer.alloc(32);
    fs.readSync(fd, header, 0, 32, 0);
    return header.subarray(16, 20).toString('hex');
  } finally {
    fs.closeSync(fd);
  }
}
