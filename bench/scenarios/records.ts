/**
 * Many records: a fresh service per database and per count of `--sizes records=` (10^3 and 10^6
 * by default), seeded straight into its tables (`seed.ts`). Meta of random records and the first
 * and last list pages (100 records) at 16 connections, every count's in the same interleaved
 * rounds; the targets want their p99 flat from the smallest count to the largest. Then `--sizes sweep=` (10^5) expired
 * files, each a real object on disk, are swept (`POST /storage/admin/sweep`) with all those
 * records in the table: files/s from the expired rows counted down while it runs (at most
 * `--sweep-seconds`; a sweep still running then is rated by what it removed so far).
 */
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { log, subjectOf, type BenchContext } from '../context';
import { recreateDatabase } from '../database';
import { expectJson, request } from '../http';
import { load } from '../load';
import { AUTH, startService, type ServiceProcess } from '../processes';
import { interleave, type Figures, type Run } from '../report';
import { warmUp } from './get';
import { namer, openDb, seed, templateOf, type BenchDb, type Template } from '../seed';

export const SWEEP_SCENARIO = 'sweep expired files';
const CONNECTIONS = 16;
const PAGE = 100;
/** Seeded records whose objects are put on disk too (and one of them downloaded as a check). */
const WITH_OBJECTS = 1000;
const seededName = namer('seed');

export function recordsScenario(count: number): string {
  return `records ${count.toLocaleString('en-US')}`;
}

async function p99(url: string, seconds: number, nextPath?: () => string): Promise<Figures> {
  const r = await load({ url, headers: AUTH, connections: CONNECTIONS, seconds, nextPath });
  return { 'req/s': r.perSecond, p99: r.p99Ms, failed: r.failed };
}

/** One service seeded to one record count, with its database open. */
interface Seeded {
  service: ServiceProcess;
  db: BenchDb;
  template: Template;
  count: number;
}

/** Meta of random records, the first and the last list page of one seeded service. */
async function readRuns(seeded: Seeded, seconds: number): Promise<Run[]> {
  const { service, db, count } = seeded;
  const [{ maxId }] = await db.rows('SELECT MAX("id") AS "maxId" FROM "storage_files"');
  const lastPage = service.url(`/storage/files?limit=${PAGE}&cursor=${Number(maxId) - PAGE}`);
  const last = await expectJson<{ items: unknown[] }>(lastPage, 200, { headers: AUTH });
  if (last.items.length === 0) throw new Error('the last list page is empty: the cursor is not what the bench expects');
  const subject = (what: string) => `${recordsScenario(count)}\t${subjectOf(service)} ${what}`;
  const randomMeta = () => `/storage/meta/${seededName(Math.floor(Math.random() * (count - 1)))}`;
  return [
    { subject: subject('meta'), run: () => p99(service.url('/'), seconds, randomMeta) },
    { subject: subject('list first page'), run: () => p99(service.url(`/storage/files?limit=${PAGE}`), seconds) },
    { subject: subject('list last page'), run: () => p99(lastPage, seconds) },
  ];
}

/**
 * The reads of every record count, interleaved round by round (a service per count), so that
 * a slow moment of the machine does not land on one count only.
 */
async function measureReads(ctx: BenchContext, all: Seeded[]): Promise<void> {
  const runs = async (seconds: number) => (await Promise.all(all.map((s) => readRuns(s, seconds)))).flat();
  await warmUp('records', await runs(2));
  const collected = await interleave(ctx.options.readRounds, await runs(ctx.options.readSeconds));
  for (const [key, metrics] of collected) {
    const [scenario, subject] = key.split('\t');
    ctx.results.addAll(scenario, new Map([[subject, metrics]]), { 'req/s': 'req/s', p99: 'ms' });
  }
}

/** Seeds `count` permanent records in all (the template counts as one); checks one is served. */
async function seedTo(
  ctx: BenchContext,
  db: BenchDb,
  template: Template,
  service: ServiceProcess,
  have: number,
  count: number,
): Promise<void> {
  const started = Date.now();
  const local = ctx.options.storage === 'local';
  const withObjects = Math.max(0, Math.min(WITH_OBJECTS, count - 1) - (have - 1));
  if (withObjects > 0)
    await seed(db, template, {
      nameOf: seededName,
      from: have - 1,
      count: withObjects,
      expires: null,
      withObjects: local,
    });
  const rest = count - have - withObjects;
  if (rest > 0)
    await seed(db, template, {
      nameOf: seededName,
      from: have - 1 + withObjects,
      count: rest,
      expires: null,
      withObjects: false,
    });
  log(`seeded ${count - have} records on ${service.db} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (!local) return;
  const served = await request(service.url(`/storage/files/${seededName(0)}`), { headers: AUTH });
  if (served.status !== 200)
    throw new Error(`a seeded record is not served: ${served.status} ${served.text.slice(0, 200)}`);
}

function filesLeft(dir: string): number {
  try {
    return readdirSync(dir).length;
  } catch {
    return 0;
  }
}

async function expiredLeft(db: BenchDb): Promise<number> {
  const [{ n }] = await db.rows(
    'SELECT COUNT(*) AS "n" FROM "storage_files" WHERE "expires" IS NOT NULL AND "expires" <= ?',
    [Date.now()],
  );
  return Number(n);
}

/**
 * Ends the service's event-loop sample of the time the bench spent seeding (the service idle, the
 * machine busy with the bench's own writes, to the SQLite file or to MariaDB, and index builds):
 * noted, not taken as the service's delay, so the samples that count are those of the reads and
 * of the sweep, while it serves.
 */
async function idleWhileSeeding(ctx: BenchContext, service: ServiceProcess, what: string): Promise<void> {
  const idle = await service.eventLoop();
  if (idle.maxMs > 100) {
    ctx.results.notes.push(
      `${subjectOf(service)}, idle while the bench seeded ${what}: event-loop delay up to ${idle.maxMs.toFixed(0)} ms (not counted)`,
    );
  }
}

/** Seeds the expired files (objects on disk), runs the sweep, rates it. */
async function sweep(ctx: BenchContext, service: ServiceProcess, db: BenchDb, template: Template): Promise<void> {
  const { sweep: count, sweepSeconds } = ctx.options;
  const started = Date.now();
  const withObjects = ctx.options.storage === 'local';
  await seed(db, template, { nameOf: namer('sweep'), from: 0, count, expires: Date.now() - 60_000, withObjects });
  const dir = path.join(template.root, 'sweep');
  log(`seeded ${count} expired files on ${service.db} in ${((Date.now() - started) / 1000).toFixed(1)} s; sweeping`);
  await idleWhileSeeding(ctx, service, `${count} expired files`);
  const before = await expiredLeft(db);
  const t0 = process.hrtime.bigint();
  let answered = false;
  const answer = request(service.url('/storage/admin/sweep'), { method: 'POST', headers: AUTH }).finally(
    () => (answered = true),
  );
  answer.catch(() => undefined);
  let left = before;
  let seconds = 0;
  while (!answered && left > 0 && seconds < sweepSeconds) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    left = await expiredLeft(db);
    seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  }
  if (answered) {
    const a = await answer;
    seconds = a.seconds;
    if (a.status !== 200 && a.status !== 201) throw new Error(`sweep: ${a.status} ${a.text.slice(0, 200)}`);
    left = await expiredLeft(db);
  }
  const removed = before - left;
  const subject = subjectOf(service);
  ctx.results.eventLoop.push({ scenario: SWEEP_SCENARIO, subject, ...(await service.eventLoop()) });
  ctx.results.add(SWEEP_SCENARIO, subject, 'files/s', 'files/s', [removed / seconds]);
  ctx.results.add(SWEEP_SCENARIO, subject, 'seconds', 's', [seconds]);
  if (left > 0) {
    ctx.results.notes.push(
      `sweep on ${service.db}: ${removed} of ${before} expired files removed in ${seconds.toFixed(0)} s (the cap), rated on those`,
    );
  } else {
    // The answer came: the objects must be gone from disk too (removals queued with the rows).
    for (let i = 0; i < 20 && filesLeft(dir) > 0; i++) await new Promise((resolve) => setTimeout(resolve, 250));
    const objects = filesLeft(dir);
    if (objects > 0)
      ctx.results.notes.push(`sweep on ${service.db}: ${objects} objects of expired files still on disk`);
  }
}

/** A fresh service (own data folder and database) seeded to `count` records. */
async function seededService(ctx: BenchContext, db: 'sqlite' | 'mysql', count: number, index: number): Promise<Seeded> {
  const dataDir = path.join(ctx.workDir, `records-${db}-${index}`);
  const dbUrl = ctx.options.dbUrl.replace(/\/(\w+)$/, `/$1_records${index}`);
  if (db === 'mysql') await recreateDatabase(dbUrl);
  const env = { SHUTDOWN_TIMEOUT_SECONDS: '2' };
  const service = await startService({ dataDir, db, dbUrl, configFile: ctx.configFile, env });
  const database = await openDb(service);
  await service.eventLoop();
  await expectJson(service.url('/storage/files/bench/template.bin'), 201, {
    method: 'PUT',
    headers: { ...AUTH, 'Content-Type': 'application/octet-stream' },
    body: Buffer.alloc(1024, 7),
  });
  const template = await templateOf(database, service, 'bench/template.bin');
  await seedTo(ctx, database, template, service, 1, count);
  return { service, db: database, template, count };
}

async function recordsOn(ctx: BenchContext, db: 'sqlite' | 'mysql'): Promise<void> {
  const all: Seeded[] = [];
  try {
    for (const [index, count] of ctx.options.records.entries()) all.push(await seededService(ctx, db, count, index));
    log(`records on ${db}: meta and list pages at ${ctx.options.records.join(' and ')} records`);
    for (const { service, count } of all) await idleWhileSeeding(ctx, service, `${count} records`);
    await measureReads(ctx, all);
    for (const { service, count } of all) {
      const scenario = recordsScenario(count);
      ctx.results.eventLoop.push({ scenario, subject: subjectOf(service), ...(await service.eventLoop()) });
    }
    const largest = all[all.length - 1];
    await sweep(ctx, largest.service, largest.db, largest.template);
  } finally {
    for (const { service, db: database } of all) {
      await database.close();
      await service.stop();
    }
  }
}

export async function recordsAndSweeps(ctx: BenchContext): Promise<void> {
  for (const db of ctx.options.dbs) await recordsOn(ctx, db);
}
