import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Worker } from 'node:worker_threads';
import { DataSource } from 'typeorm';
import { KeyLocks } from '../storage/ledger/key-locks';

/** How often the worker checkpoints the WAL. */
export const CHECKPOINT_INTERVAL_MS = 250;

/** WAL pages past which the worker asks for a checkpoint between writes, so that the WAL starts over. */
export const RESTART_PAGES = 4096;

/** Longest the writes wait for the worker's checkpoint between them; they go on without it after. */
const RESTART_WAIT_MS = 2000;

/**
 * The worker's code (inline, so that it runs the same from dist/ and under Jest): its own
 * connections to the database file, a PASSIVE checkpoint (never waits for, never blocks, readers
 * and writers; copies what it can) every interval, the WAL truncated back to `journal_size_limit`
 * after each. Once the WAL holds `restartPages` pages it asks the main thread (once) for a
 * checkpoint between writes (`restart`), and runs it when told (`checkpoint`). It tells the main
 * thread what the last checkpoint did when asked (`report`).
 *
 * It also holds a read transaction (`pin`) on the newest snapshot it has checkpointed, taken
 * again at each checkpoint that has new commits to copy: while a reader is in the WAL, a write
 * of the service's connection cannot start the WAL over, and only the worker does, between
 * writes (with a write of its own, which syncs the new WAL header here, not on the event loop).
 */
const WORKER_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.sqlite);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 0');
db.pragma('journal_size_limit = ' + workerData.journalSizeLimit);
const pin = new Database(workerData.file, { fileMustExist: true, readonly: true });
pin.pragma('busy_timeout = 0');
const snapshot = pin.prepare('SELECT 1 FROM sqlite_master LIMIT 1');
let pinned = false;
let version = null;
let last = null;
let asked = false;
function unpin() {
  if (pinned) pin.exec('COMMIT');
  pinned = false;
}
function repin() {
  unpin();
  pin.exec('BEGIN');
  // Open from here, even if the read below fails: the next unpin ends it.
  pinned = true;
  snapshot.get();
}
function checkpoint() {
  try { last = db.pragma('wal_checkpoint(PASSIVE)')[0]; } catch (err) { last = { error: String(err && err.message) }; }
  return last;
}
/** Commits by another connection since the last call. */
function changed() {
  const now = db.pragma('data_version', { simple: true });
  const was = version;
  version = now;
  return was !== now;
}
function periodic() {
  try {
    if (!changed()) return;
    // Pinned again first, on a snapshot holding the new commits (not yet copied, so the pin sits
    // in the WAL), then copied up to it.
    repin();
  } catch (err) {
    // Taken again at the next interval, as if there were new commits.
    version = null;
    last = { error: String(err && err.message) };
    return;
  }
  const result = checkpoint();
  if (!asked && result.log >= workerData.restartPages) {
    asked = true;
    parentPort.postMessage({ type: 'restart', log: result.log });
  }
}
/** Between writes: everything copied, the WAL started over by a write of this thread, pinned again. */
function restart() {
  asked = false;
  let result = null;
  try {
    unpin();
    result = checkpoint();
    if (result.log > 0 && result.checkpointed === result.log) {
      // Writes page 1 (the value it holds): the first frame of a new WAL.
      db.pragma('user_version = ' + db.pragma('user_version', { simple: true }));
    }
  } catch (err) {
    result = { error: String(err && err.message) };
  }
  try {
    changed();
    repin();
  } catch (err) {
    version = null;
    result = { error: String(err && err.message) };
  }
  last = result;
  return last;
}
const timer = setInterval(periodic, workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message === 'report') parentPort.postMessage({ type: 'report', last });
  if (message === 'checkpoint') parentPort.postMessage({ type: 'checkpoint', last: restart() });
  if (message === 'stop') { clearInterval(timer); unpin(); pin.close(); db.close(); parentPort.close(); }
});
`;

/** What a PASSIVE checkpoint did (pages), as SQLite reports it. */
export interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
}

/**
 * WAL checkpoints of the embedded SQLite database, off the event loop. With SQLite's automatic
 * checkpoint, the commit that crosses `wal_autocheckpoint` pages copies the WAL into the database
 * and syncs it, on the event loop (better-sqlite3 is synchronous): tens to hundreds of
 * milliseconds during which no request is served. Here a worker thread with a connection of its
 * own checkpoints every `CHECKPOINT_INTERVAL_MS`; the service's connection keeps an automatic
 * checkpoint only as a backstop, at a threshold the worker keeps it from reaching
 * (`sqlitePragmas`). No worker (MySQL, an in-memory database, a worker that could not start): the
 * backstop alone, as before.
 *
 * Copying the WAL back is not enough to keep it short: SQLite starts the WAL over only at a write
 * that begins when every page of it has been copied, which never happens while writes follow each
 * other without a pause (a sweep: a transaction every few milliseconds), so the WAL grew to the
 * backstop and the event loop checkpointed it (130-550 ms per checkpoint seen in a sweep of 10^5
 * files). So once the WAL holds `RESTART_PAGES` pages, the worker asks for a checkpoint between
 * writes: in the writers' own queue (`KeyLocks.exclusive`, which every ledger write goes
 * through), it copies what is left while writes wait (asynchronously: the event loop runs), and
 * its own write starts the WAL over. A worker that does not answer within `RESTART_WAIT_MS`
 * holds them no longer.
 *
 * Starting the WAL over is the worker's alone: the write that does it syncs the new WAL header
 * first (SQLite's guard against out-of-order writes), and on the service's connection that was an
 * fsync on the event loop, after every checkpoint that caught up (a few times a second under
 * uploads; as long as the disk takes under their fsyncs: the largest event-loop delay of the
 * upload bench). The worker's reader, held in the WAL on the snapshot it last checkpointed, keeps
 * the service's writes appending instead.
 */
@Injectable()
export class SqliteCheckpointer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(SqliteCheckpointer.name);
  private worker: Worker | null = null;
  /** Replies awaited from the worker, by message type. */
  private readonly replies = new Map<string, ((last: CheckpointResult | null) => void)[]>();
  private restarting = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly locks: KeyLocks,
  ) {}

  onApplicationBootstrap(): void {
    const { options } = this.dataSource;
    const file = options.type === 'better-sqlite3' ? options.database : undefined;
    if (!file || file === ':memory:') return;
    const worker = new Worker(WORKER_CODE, {
      eval: true,
      workerData: {
        file,
        sqlite: require.resolve('better-sqlite3'),
        intervalMs: CHECKPOINT_INTERVAL_MS,
        journalSizeLimit: 64 * 1024 * 1024,
        restartPages: RESTART_PAGES,
      },
    });
    worker.unref();
    worker.on('message', (message: { type: string; last?: CheckpointResult | null }) => {
      if (message.type === 'restart') this.restartBetweenWrites();
      else this.replies.get(message.type)?.shift()?.(message.last ?? null);
    });
    worker.on('error', (err) => {
      this.logger.warn(`the WAL checkpoint worker stopped (${err.message}): checkpoints go back to commits`);
      this.worker = null;
    });
    this.worker = worker;
  }

  /** The last checkpoint's `{busy, log, checkpointed}` (pages), or null before the first. */
  lastCheckpoint(): Promise<CheckpointResult | null> {
    return this.ask('report', 10_000);
  }

  /** A checkpoint in the writers' queue: no write runs until it is done (or `RESTART_WAIT_MS` passed). */
  private restartBetweenWrites(): void {
    if (this.restarting) return;
    this.restarting = true;
    this.locks
      .exclusive(() => this.ask('checkpoint', RESTART_WAIT_MS))
      .catch((err: unknown) => this.logger.warn(`a WAL checkpoint between writes failed: ${String(err)}`))
      .finally(() => (this.restarting = false));
  }

  /** Sends `type` to the worker; its answer, or null without a worker or after `timeoutMs`. */
  private ask(type: 'report' | 'checkpoint', timeoutMs: number): Promise<CheckpointResult | null> {
    const worker = this.worker;
    if (!worker) return Promise.resolve(null);
    return new Promise((resolve) => {
      const waiting = this.replies.get(type) ?? [];
      this.replies.set(type, waiting);
      const answer = (last: CheckpointResult | null) => {
        clearTimeout(timer);
        resolve(last);
      };
      const timer = setTimeout(() => {
        const at = waiting.indexOf(answer);
        if (at >= 0) waiting.splice(at, 1);
        resolve(null);
      }, timeoutMs);
      // Unref'd, as the worker is: an answer still awaited keeps no process alive.
      timer.unref();
      waiting.push(answer);
      worker.postMessage(type);
    });
  }

  async onApplicationShutdown(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    if (!worker) return;
    // Answers still awaited will not come: no write waits for them any longer.
    for (const waiting of this.replies.values()) for (const answer of waiting.splice(0)) answer(null);
    // A ref'd timer: with the worker unref'd, the process would otherwise run out of work and end
    // (exit code 0) in the middle of the application's shutdown, before its own exit or signal.
    let timer: NodeJS.Timeout | undefined;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage('stop');
    await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, 2000)))]);
    clearTimeout(timer);
  }
}
