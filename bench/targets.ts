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
    "done: profiled; the read path was already the bare server's (1 MiB reads piped, no Transform); GETs are " +
    'measured in back-to-back bare/service pairs; a download piped to a response reuses two read buffers (a fresh ' +
    '1 MiB buffer per read sometimes cost 2-3x the CPU in GC and page faults, in bare too). Left: the ratio follows ' +
    "this shared machine's load (2 cores, the bench's client on the same cores): rerun when it is quiet",
  bigPut: 'one fsync, hashing off the event loop (a worker) or overlapped with the write, large write buffers',
  rss: 'backpressure all the way (no buffering of the body), bounded buffers',
  flat: 'queries whose plans read an index in the order they return (no sort of the whole table per page)',
  sweep:
    'done: set-based batches (one delete per batch, an index-ordered claim, one summary line). Left: per-object work ' +
    'in the purger (a thumbnail-row query and a folder listing per removed object). To reach it: derivatives found ' +
    'by one query per batch, no folder listing for objects without thumbnails, removals in parallel',
  loop:
    'not attributed yet: the largest delay is taken across the whole run (seeding and sweeps of 10^5-10^6 rows ' +
    'included); a per-scenario maximum would say where',
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
