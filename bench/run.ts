/**
 * `npm run bench`: builds the service, starts it (a child process per database, each on its own
 * temp DATA_DIR) beside the baselines (a bare `node:http` server doing the same disk I/O, and
 * express + serve-static), runs the scenarios of issue 12 in interleaved rounds, prints a table
 * and writes `bench/results.json`. Options: see `options.ts` and README, "Benchmark".
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { log, type BenchContext } from './context';
import { recreateDatabase } from './database';
import { parseOptions, SCENARIOS, type BenchOptions, type Scenario } from './options';
import {
  ROOT,
  startBaseline,
  startService,
  stopAll,
  tail,
  writeServiceConfig,
  type Server,
  type ServiceProcess,
} from './processes';
import { Results } from './report';
import { bigTransfers } from './scenarios/big';
import { smallGets } from './scenarios/get';
import { recordsAndSweeps } from './scenarios/records';
import { thumbnails } from './scenarios/thumbnail';
import { smallUploads } from './scenarios/upload';
import { startStoragePeer, type StoragePeer } from './storage-peer';
import { checkTargets } from './targets';

type ScenarioRun = (ctx: BenchContext) => Promise<void>;

/** Scenarios not listed here are not built yet in this version of the bench. */
const RUNNERS: Partial<Record<Scenario, ScenarioRun>> = {
  get: smallGets,
  upload: smallUploads,
  big: bigTransfers,
  thumbnail: thumbnails,
  records: recordsAndSweeps,
};

function build(): void {
  log('building the service (nest build)');
  const result = spawnSync(path.join(ROOT, 'node_modules/.bin/nest'), ['build'], { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) throw new Error('nest build failed');
}

async function startServices(
  options: BenchOptions,
  workDir: string,
  configFile: string,
  notes: string[],
): Promise<ServiceProcess[]> {
  const services: ServiceProcess[] = [];
  for (const db of options.dbs) {
    const dataDir = path.join(workDir, `data-${db}`);
    mkdirSync(dataDir);
    if (
      db === 'mysql' &&
      !(await recreateDatabase(options.dbUrl).then(
        () => true,
        () => false,
      ))
    ) {
      notes.push(`MariaDB at ${options.dbUrl} did not answer: the run is on SQLite only`);
      options.dbs = options.dbs.filter((d) => d !== 'mysql');
      continue;
    }
    services.push(await startService({ dataDir, db, dbUrl: options.dbUrl, configFile }));
    log(`service on ${db} listening on port ${services.at(-1)!.port}`);
  }
  return services;
}

/** Reads the largest event-loop delay each service saw during `scenario`. */
async function sampleEventLoop(ctx: BenchContext, scenario: string): Promise<void> {
  for (const service of ctx.services) {
    const report = await service.eventLoop();
    ctx.results.eventLoop.push({ scenario, subject: `service ${service.db}`, ...report });
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const results = new Results(options);
  if (options.build) build();
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'storage-bench-'));
  const servers: Server[] = [];
  let peer: StoragePeer | undefined;
  try {
    peer = await startStoragePeer(options.storage);
    if (peer) {
      results.notes.push(
        `the default instance is ${options.storage} on its test peer; the baselines still work on local disk, so the ratios compare with local disk I/O`,
      );
    }
    const configFile = path.join(workDir, 'bench-config.json');
    writeServiceConfig(configFile, peer?.instance);
    const services = await startServices(options, workDir, configFile, results.notes);
    servers.push(...services);
    const baselineDir = path.join(workDir, 'baseline');
    mkdirSync(baselineDir);
    const bare = await startBaseline('bare node:http', 'bare.ts', baselineDir);
    const express = await startBaseline('express + serve-static', 'static.ts', baselineDir);
    servers.push(bare, express);
    const ctx: BenchContext = { options, results, services, bare, express, baselineDir, workDir, configFile };
    for (const service of services) await service.eventLoop(); // start-up is not part of any scenario
    for (const scenario of SCENARIOS.filter((s) => options.scenarios.includes(s))) {
      const runner = RUNNERS[scenario];
      if (!runner) {
        results.notes.push(`scenario ${scenario} is not part of this version of the bench`);
        continue;
      }
      const started = Date.now();
      await runner(ctx);
      await sampleEventLoop(ctx, scenario);
      results.durations[scenario] = Math.round((Date.now() - started) / 1000);
    }
  } catch (err) {
    for (const service of servers.filter((s): s is ServiceProcess => 'logFile' in s)) {
      process.stderr.write(`\nthe end of ${service.name}'s log:\n${tail(service.logFile)}\n`);
    }
    throw err;
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    await stopAll();
    await peer?.close();
    rmSync(workDir, { recursive: true, force: true });
  }
  checkTargets(results, options);
  process.stdout.write(`\n${results.table()}\n`);
  const out = path.resolve(ROOT, options.out);
  results.write(out);
  log(`wrote ${path.relative(process.cwd(), out)}`);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\n${signal}: stopping the servers\n`);
    void stopAll().finally(() => process.exit(130));
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
