/**
 * Small GETs at 32 connections: the service's download (`/files`, with a token) and preview
 * (public) of one small file, against the bare server and express + serve-static serving the
 * same bytes from disk.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { log, subjectOf, type BenchContext } from '../context';
import { expectJson } from '../http';
import { load, type LoadOptions } from '../load';
import { AUTH } from '../processes';
import { BARE, interleave, type Figures, type Run } from '../report';

export const GET_SCENARIO = 'GET small x32';
const CONNECTIONS = 32;
const UNITS = { 'req/s': 'req/s', p50: 'ms', p99: 'ms', failed: 'req' };

async function measure(options: Omit<LoadOptions, 'connections'>): Promise<Figures> {
  const r = await load({ ...options, connections: CONNECTIONS });
  return { 'req/s': r.perSecond, p50: r.p50Ms, p99: r.p99Ms, failed: r.failed };
}

export async function smallGets(ctx: BenchContext): Promise<void> {
  const { options } = ctx;
  const name = 'small.txt';
  // Printable bytes, so that preview serves it inline as text/plain (its common case).
  const body = Buffer.from(randomBytes(options.small).toString('base64').slice(0, options.small));
  writeFileSync(path.join(ctx.baselineDir, name), body);
  for (const service of ctx.services) {
    await expectJson(service.url(`/storage/files/bench/${name}`), 201, {
      method: 'PUT',
      headers: { ...AUTH, 'Content-Type': 'text/plain' },
      body,
    });
  }
  // Each round: every service's download and preview, the bare server once between them, and
  // express + serve-static.
  const serviceRuns = (seconds: number): Run[] =>
    ctx.services.flatMap((service) => [
      {
        subject: subjectOf(service, 'download'),
        run: () => measure({ url: service.url(`/storage/files/bench/${name}`), headers: AUTH, seconds }),
      },
      {
        subject: subjectOf(service, 'preview'),
        run: () => measure({ url: service.url(`/storage/preview/bench/${name}`), seconds }),
      },
    ]);
  const runs = (seconds: number): Run[] => {
    const services = serviceRuns(seconds);
    const half = Math.ceil(services.length / 2);
    return [
      ...services.slice(0, half),
      { subject: BARE, run: () => measure({ url: ctx.bare.url(`/f/${name}`), seconds }) },
      ...services.slice(half),
      { subject: 'express + serve-static', run: () => measure({ url: ctx.express.url(`/f/${name}`), seconds }) },
    ];
  };
  await warmUp(GET_SCENARIO, runs(2));
  log(`${GET_SCENARIO}: ${options.rounds} rounds of ${runs(0).length} runs, ${options.seconds} s each`);
  ctx.results.addAll(GET_SCENARIO, await interleave(options.rounds, runs(options.seconds)), UNITS);
}

/** One short run of each (build them with 2 s), not counted: JIT, connection pools, caches. */
export async function warmUp(scenario: string, runs: Run[]): Promise<void> {
  log(`${scenario}: warming up`);
  for (const { run } of runs) await run();
}
