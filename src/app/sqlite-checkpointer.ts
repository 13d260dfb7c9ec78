import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Worker } from 'node:worker_threads';
import { DataSource } from 'typeorm';

/** How often the worker checkpoints the WAL. */
export const CHECKPOINT_INTERVAL_MS = 250;

/**
 * The worker's code (inline, so that it runs the same from dist/ and under Jest): its own
 * connection to the database file, a PASSIVE checkpoint (never waits for, never blocks, readers
 * and writers; copies what it can) every interval, the WAL truncated back to `journal_size_limit`
 * after each. It tells the main thread what each checkpoint did when asked (`'report'`).
 */
const WORKER_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.sqlite);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 0');
db.pragma('journal_size_limit = ' + workerData.journalSizeLimit);
let last = null;
const timer = setInterval(() => {
  try { last = db.pragma('wal_checkpoint(PASSIVE)')[0]; } catch (err) { last = { error: String(err && err.message) }; }
}, workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message === 'report') parentPort.postMessage(last);
  if (message === 'stop') { clearInterval(timer); db.close(); parentPort.close(); }
});
`;

/**
 * WAL checkpoints of the embedded SQLite database, off the event loop. With SQLite's automatic
 * checkpoint, the commit that crosses `wal_autocheckpoint` pages copies the WAL into the database
 * and syncs it, on the event loop (better-sqlite3 is synchronous): tens of milliseconds during
 * which no request is served (up to 78 ms seen in a sweep of 10^5 files). Here a worker thread
 * with a connection of its own checkpoints every `CHECKPOINT_INTERVAL_MS`; the service's
 * connection keeps an automatic checkpoint only as a backstop, at a threshold the worker keeps it
 * from reaching (`sqlitePragmas`). No worker (MySQL, an in-memory database, a worker that could
 * not start): the backstop alone, as before.
 */
@Injectable()
export class SqliteCheckpointer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(SqliteCheckpointer.name);
  private worker: Worker | null = null;

  constructor(private readonly dataSource: DataSource) {}

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
      },
    });
    worker.unref();
    worker.on('error', (err) => {
      this.logger.warn(`the WAL checkpoint worker stopped (${err.message}): checkpoints go back to commits`);
      this.worker = null;
    });
    this.worker = worker;
  }

  /** The last checkpoint's `{busy, log, checkpointed}` (pages), or null before the first. */
  lastCheckpoint(): Promise<{ busy: number; log: number; checkpointed: number } | null> {
    const worker = this.worker;
    if (!worker) return Promise.resolve(null);
    return new Promise((resolve) => {
      worker.once('message', resolve);
      worker.postMessage('report');
    });
  }

  async onApplicationShutdown(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    if (!worker) return;
    // A ref'd timer: with the worker unref'd, the process would otherwise run out of work and end
    // (exit code 0) in the middle of the application's shutdown, before its own exit or signal.
    let timer: NodeJS.Timeout | undefined;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage('stop');
    await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, 2000)))]);
    clearTimeout(timer);
  }
}
