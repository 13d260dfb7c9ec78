/** The targets of issue 12, checked against this run's figures (ratios to the same run's bare server). */
import type { BenchOptions } from './options';
import { BARE, type Results } from './report';
import { bigScenario } from './scenarios/big';
import { GET_SCENARIO } from './scenarios/get';
import { recordsScenario, SWEEP_SCENARIO } from './scenarios/records';
import { UPLOAD_SCENARIO } from './scenarios/upload';

const HINTS = {
  get:
    'done: one open and fstat per request, a read buffer sized to the file, no AbortController per response. Left: ' +
    'the request pipeline costs about 1 ms of CPU per request here (meta, which reads no file, runs at about the same ' +
    'rate as the download): Express router, Nest guard, interceptor and filter, pino-http, TypeORM query building and ' +
    "better-sqlite3's prepare on every query. To reach it: a lean GET/HEAD route for files and previews outside the " +
    'Nest pipeline, the record lookup as a cached prepared statement, fewer middlewares per request',
  upload:
    'done: hand-written claim/commit SQL, 13 statements per upload (was 19), one fsync of the temp file on its ' +
    'descriptor plus the folder. Left: two transactions per upload (the pin before the bytes, the record after), ' +
    "SQLite's process-wide queue (TypeORM shares one connection), multer and Nest per request. To reach it: one " +
    'transaction for a new key, group commit of concurrent uploads, a connection of its own for the ledger',
  bigGet:
    'not profiled yet: 1 MiB reads piped with backpressure as the bare server does; this ratio moved between 0.79x ' +
    'and 1.12x across runs on this shared machine: rerun, then profile',
  bigPut: 'one fsync, hashing off the event loop (a worker) or overlapped with the write, large write buffers',
  rss: 'backpressure all the way (no buffering of the body), bounded buffers',
  flat: 'queries whose plans read an index in the order they return (no sort of the whole table per page)',
  sweep:
    'done: set-based batches (one delete per batch, an index-ordered claim, one summary line); the purger takes a ' +
    "batch's objects in one pass: one read of the queue rows, removals 16 at a time, one query for the derivative " +
    'rows of the whole batch, a derivative look (rows, folder listing) only for objects that have rows, one dequeue ' +
    '(about 14 statements and 2 commits per 100 files), while the next batch is claimed and taken. SQLite passes ' +
    '(2,089, 2,459 and 3,055 files/s on a loaded machine); MariaDB is at 1,030-1,512 files/s in the bench, the ' +
    'service idle about 70% of the sweep, waiting on the server (row and index work of the deletes, a commit per ' +
    'batch and per dequeue). To reach it: the dequeue inside the next batch transaction (one commit per batch), ' +
    'larger batches on MariaDB (lifecycle.batchSize 500 against 100 was not clearly faster here), a profile of ' +
    'the server side (innodb row locks and undo of the multi-row deletes)',
  loop:
    'attributed per phase now: the reads of each record count, the sweep, and the time the service sits idle while ' +
    'the bench seeds (noted, not counted). On this shared 2-core machine every phase showed 100-300 ms, the main ' +
    'services too while they sat idle through the records scenario (298-324 ms): the delays follow the load of the ' +
    'machine, not the scenario. The sweep itself reached 55-192 ms; on SQLite it yields between ' +
    'claim, transaction and purge, leaving single statements: a COMMIT that runs a WAL checkpoint (fsync) took up to ' +
    '78 ms. To reach it on a quiet machine: checkpoints off the event loop (a worker with its own connection running ' +
    'wal_checkpoint, wal_autocheckpoint 0 on the service connection), then profile the reads at 16 connections',
};

function ratio(results: Results, scenario: string, subject: string, metric: string): number | undefined {
  const m = results.get(scenario, subject, metric);
  const bare = results.get(scenario, BARE, metric);
  return m && bare?.median ? m.median / bare.median : undefined;
}

export function checkTargets(results: Results, options: BenchOptions): void {
  for (const db of options.dbs) {
    if (options.scenarios.includes('get')) {
      for (const what of ['download', 'preview']) {
        const subject = `service ${db} ${what}`;
        results.target({
          id: `get-${what}-rps-${db}`,
          text: `small ${what} req/s vs bare (${db})`,
          value: ratio(results, GET_SCENARIO, subject, 'req/s'),
          kind: 'min',
          limit: 0.5,
          hint: HINTS.get,
        });
        results.target({
          id: `get-${what}-p99-${db}`,
          text: `small ${what} p99 vs bare (${db})`,
          value: ratio(results, GET_SCENARIO, subject, 'p99'),
          kind: 'max',
          limit: 2,
          hint: HINTS.get,
        });
      }
    }
    if (options.scenarios.includes('upload')) {
      results.target({
        id: `upload-${db}`,
        text: `small uploads/s vs bare (${db})`,
        value: ratio(results, UPLOAD_SCENARIO, `service ${db}`, 'uploads/s'),
        kind: 'min',
        limit: db === 'sqlite' ? 0.4 : 0.3,
        hint: HINTS.upload,
      });
    }
  }
  if (options.scenarios.includes('big')) checkBig(results, options);
  if (options.scenarios.includes('records')) for (const db of options.dbs) checkRecords(results, options, db);
  const loop = results.eventLoop.length ? Math.max(...results.eventLoop.map((e) => e.maxMs)) : undefined;
  results.target({
    id: 'event-loop',
    text: 'largest event-loop delay (ms)',
    value: loop,
    kind: 'max',
    limit: 100,
    hint: HINTS.loop,
  });
}

/** p99 at the largest count over p99 at the smallest: flat is at most 1.5x. */
function checkRecords(results: Results, options: BenchOptions, db: string): void {
  const small = recordsScenario(options.records[0]);
  const large = recordsScenario(options.records.at(-1)!);
  for (const what of ['meta', 'list first page', 'list last page']) {
    const subject = `service ${db} ${what}`;
    const a = results.get(small, subject, 'p99')?.median;
    const b = results.get(large, subject, 'p99')?.median;
    results.target({
      id: `flat-${what.replaceAll(' ', '-')}-${db}`,
      text: `${what} p99 at ${options.records.at(-1)} / at ${options.records[0]} records (${db})`,
      value: a && b ? b / a : undefined,
      kind: 'max',
      limit: 1.5,
      hint: HINTS.flat,
    });
  }
  results.target({
    id: `sweep-${db}`,
    text: `sweep of expired files, files/s (${db})`,
    value: results.get(SWEEP_SCENARIO, `service ${db}`, 'files/s')?.median,
    kind: 'min',
    limit: 2000,
    hint: HINTS.sweep,
  });
}

function checkBig(results: Results, options: BenchOptions): void {
  const scenario = bigScenario(options.big);
  const subject = `service ${options.dbs[0]}`;
  results.target({
    id: 'big-get',
    text: 'large GET MB/s vs bare',
    value: ratio(results, scenario, subject, 'GET MB/s'),
    kind: 'min',
    limit: 0.9,
    hint: HINTS.bigGet,
  });
  results.target({
    id: 'big-put',
    text: 'large raw PUT MB/s vs bare (same fsyncs)',
    value: ratio(results, scenario, subject, 'PUT MB/s'),
    kind: 'min',
    limit: 0.8,
    hint: HINTS.bigPut,
  });
  for (const what of ['PUT', 'POST', 'GET']) {
    results.target({
      id: `big-rss-${what.toLowerCase()}`,
      text: `peak RSS growth during a large ${what} (MiB)`,
      value: results.get(scenario, subject, `${what} RSS growth`)?.max,
      kind: 'max',
      limit: 64,
      hint: HINTS.rss,
    });
  }
}
