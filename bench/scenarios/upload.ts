/**
 * Small uploads, 16 at a time: raw PUTs of a small body to a new key each, on each database,
 * against the bare server's write + fsync + rename + folder fsync of the same body.
 */
import { randomBytes } from 'node:crypto';
import { log, subjectOf, type BenchContext } from '../context';
import { load } from '../load';
import { AUTH } from '../processes';
import { BARE, interleave, type Figures, type Run } from '../report';
import { warmUp } from './get';

export const UPLOAD_SCENARIO = 'PUT small x16';
const CONNECTIONS = 16;
const UNITS = { 'uploads/s': '/s', p50: 'ms', p99: 'ms', failed: 'req' };

let serial = 0;

async function measure(
  url: string,
  pathOf: (n: number) => string,
  body: Buffer,
  seconds: number,
  headers = {},
): Promise<Figures> {
  const run = ++serial;
  let n = 0;
  const r = await load({
    url,
    connections: CONNECTIONS,
    seconds,
    method: 'PUT',
    headers: { 'Content-Type': 'application/octet-stream', ...headers },
    body,
    nextPath: () => pathOf(run * 1e7 + n++),
  });
  return { 'uploads/s': r.perSecond, p50: r.p50Ms, p99: r.p99Ms, failed: r.failed };
}

export async function smallUploads(ctx: BenchContext): Promise<void> {
  const { options } = ctx;
  const body = randomBytes(options.small);
  const runs = (seconds: number): Run[] =>
    ctx.services.flatMap((service) => [
      {
        subject: subjectOf(service),
        run: () => measure(service.url('/'), (n) => `/storage/files/bench/up/${n}.bin`, body, seconds, AUTH),
      },
      { subject: BARE, run: () => measure(ctx.bare.url('/'), (n) => `/f/up-${n}.bin`, body, seconds) },
    ]);
  await warmUp(UPLOAD_SCENARIO, runs(2));
  log(`${UPLOAD_SCENARIO}: ${options.rounds} rounds, ${options.seconds} s each`);
  ctx.results.addAll(UPLOAD_SCENARIO, await interleave(options.rounds, runs(options.seconds)), UNITS);
}
