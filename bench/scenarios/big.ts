/**
 * Large transfers (1 GiB by default): a raw PUT, a multipart POST and a GET through the service
 * (the first database's: the database does not matter here), against the bare server's PUT
 * (write + fsync + rename + folder fsync) and GET of the same size, in interleaved rounds. MB/s
 * (10^6 bytes per second), and the service's peak RSS growth during each transfer (VmHWM after a
 * reset, or VmRSS polled every 20 ms where the peak cannot be reset). Bodies are generated as
 * they are sent, with backpressure, and downloads are counted, never kept: no whole file in the
 * bench's memory either. The service's answer must carry the md5 of what was sent.
 *
 * GETs are cheap beside the uploads and this machine's load moves within seconds, so each round
 * ends with `GET_PAIRS` pairs of GETs, the bare server's and the service's back to back, the pair's
 * order alternating: both subjects of a pair see the same moment of the machine, and neither always
 * goes first (a GET right after an upload's fsync, or after the other's GET, is not favoured).
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { log, subjectOf, type BenchContext } from '../context';
import { request, type Answer } from '../http';
import { AUTH, procStatusKiB, resetPeak, type ServiceProcess } from '../processes';
import { BARE, type Figures } from '../report';

/** `large transfer 1024 MiB`: the scenario's name says the size. */
export function bigScenario(size: number): string {
  return `large transfer ${(size / 1024 ** 2).toFixed(0)} MiB`;
}
const UNITS = { 'PUT MB/s': 'MB/s', 'POST MB/s': 'MB/s', 'GET MB/s': 'MB/s' };
const BLOCK = randomBytes(1024 * 1024);

/** `size` bytes of a varying pattern (each 1 MiB block numbered), made as they are read. */
function body(size: number, before = '', after = ''): Readable {
  function* chunks(): Generator<Buffer> {
    if (before) yield Buffer.from(before);
    for (let sent = 0, i = 0; sent < size; i++) {
      const chunk = Buffer.from(BLOCK.subarray(0, Math.min(BLOCK.length, size - sent)));
      chunk.writeUInt32LE(i, 0);
      sent += chunk.length;
      yield chunk;
    }
    if (after) yield Buffer.from(after);
  }
  return Readable.from(chunks(), { objectMode: false });
}

/** The md5 of `body(size)`, computed once before the rounds (not while the servers work). */
function md5Of(size: number): Promise<string> {
  const hash = createHash('md5');
  return new Promise((resolve, reject) =>
    body(size)
      .on('data', (chunk: Buffer) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', reject),
  );
}

/** Runs `transfer` while watching the service's peak RSS; returns the answer and the growth in MiB. */
async function withPeakRss<T>(pid: number, transfer: () => Promise<T>): Promise<{ answer: T; growthMiB: number }> {
  const exact = resetPeak(pid);
  const before = procStatusKiB(pid, 'VmRSS');
  let polled = before;
  const poll = setInterval(() => (polled = Math.max(polled, procStatusKiB(pid, 'VmRSS'))), 20);
  try {
    const answer = await transfer();
    const peak = exact ? procStatusKiB(pid, 'VmHWM') : Math.max(polled, procStatusKiB(pid, 'VmRSS'));
    return { answer, growthMiB: (peak - before) / 1024 };
  } finally {
    clearInterval(poll);
  }
}

function check(what: string, answer: Answer & { bytes: number }, status: number, md5?: string): void {
  if (answer.status !== status) throw new Error(`${what}: ${answer.status} ${answer.text.slice(0, 200)}`);
  if (md5 && (JSON.parse(answer.text) as { md5?: string }).md5 !== md5) throw new Error(`${what}: the md5 differs`);
}

const mbps = (size: number, seconds: number) => size / 1e6 / seconds;

/** GETs per subject and round, in bare/service pairs. */
const GET_PAIRS = 3;

/** The subjects' order in the `pair`-th GET pair: alternating, so neither always goes first. */
function pairOrder<T>(pair: number, bare: T, service: T): [T, T] {
  return pair % 2 === 0 ? [bare, service] : [service, bare];
}

async function servicePuts(service: ServiceProcess, size: number, md5: string, round: number): Promise<Figures> {
  const pid = service.child.pid!;
  const key = rawKey(round);
  const put = await withPeakRss(pid, () =>
    request(service.url(`/storage/files/${key}`), {
      method: 'PUT',
      headers: { ...AUTH, 'Content-Type': 'application/octet-stream', 'Content-Length': size },
      body: body(size),
    }),
  );
  check('PUT', put.answer, 201, md5);
  const boundary = `----bench${randomBytes(8).toString('hex')}`;
  const head =
    `--${boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\nbench/big/multipart-${round}.bin\r\n` +
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n` +
    'Content-Type: application/octet-stream\r\n\r\n';
  const tail = `\r\n--${boundary}--\r\n`;
  const post = await withPeakRss(pid, () =>
    request(service.url('/storage/files'), {
      method: 'POST',
      headers: {
        ...AUTH,
        'Content-Type': `multipart/form-data; boundary=${boundary}`,
        'Content-Length': size + Buffer.byteLength(head) + Buffer.byteLength(tail),
      },
      body: body(size, head, tail),
    }),
  );
  check('POST', post.answer, 201, md5);
  return {
    'PUT MB/s': mbps(size, put.answer.seconds),
    'POST MB/s': mbps(size, post.answer.seconds),
    'PUT RSS growth': put.growthMiB,
    'POST RSS growth': post.growthMiB,
  };
}

const rawKey = (round: number) => `bench/big/raw-${round}.bin`;

async function serviceGet(service: ServiceProcess, size: number, round: number): Promise<Figures> {
  const get = await withPeakRss(service.child.pid!, () =>
    request(service.url(`/storage/files/${rawKey(round)}`), { headers: AUTH }),
  );
  check('GET', get.answer, 200);
  if (get.answer.bytes !== size) throw new Error(`GET: ${get.answer.bytes} bytes of ${size}`);
  return { 'GET MB/s': mbps(size, get.answer.seconds), 'GET RSS growth': get.growthMiB };
}

async function bareGet(ctx: BenchContext, size: number): Promise<Figures> {
  const get = await request(ctx.bare.url('/f/big.bin'));
  check('bare GET', get, 200);
  if (get.bytes !== size) throw new Error(`bare GET: ${get.bytes} bytes of ${size}`);
  return { 'GET MB/s': mbps(size, get.seconds) };
}

async function barePut(ctx: BenchContext, size: number): Promise<Figures> {
  const put = await request(ctx.bare.url('/f/big.bin'), {
    method: 'PUT',
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': size },
    body: body(size),
  });
  check('bare PUT', put, 201);
  return { 'PUT MB/s': mbps(size, put.seconds) };
}

/** Appends each of `figures` to `subject`'s values (the shape `interleave` returns). */
function collect(into: Map<string, Map<string, number[]>>, subject: string, figures: Figures): void {
  const bySubject = into.get(subject) ?? new Map<string, number[]>();
  into.set(subject, bySubject);
  for (const [metric, value] of Object.entries(figures))
    bySubject.set(metric, [...(bySubject.get(metric) ?? []), value]);
}

export async function bigTransfers(ctx: BenchContext): Promise<void> {
  const { options } = ctx;
  const service = ctx.services[0];
  const size = options.big;
  const md5 = await md5Of(size);
  const rounds = Math.min(options.rounds, 2);
  log(`${bigScenario(size)}: ${rounds} rounds of PUT, POST and ${GET_PAIRS} GET pairs`);
  const units = { ...UNITS, 'PUT RSS growth': 'MiB', 'POST RSS growth': 'MiB', 'GET RSS growth': 'MiB' };
  const collected = new Map<string, Map<string, number[]>>();
  const subject = subjectOf(service);
  for (let round = 0; round < rounds; round++) {
    collect(collected, BARE, await barePut(ctx, size));
    collect(collected, subject, await servicePuts(service, size, md5, round));
    for (let pair = 0; pair < GET_PAIRS; pair++) {
      const gets = pairOrder(
        pair + round,
        { subject: BARE, run: () => bareGet(ctx, size) },
        { subject, run: () => serviceGet(service, size, round) },
      );
      for (const get of gets) collect(collected, get.subject, await get.run());
    }
    for (const name of [rawKey(round), `bench/big/multipart-${round}.bin`]) {
      await request(service.url(`/storage/files/${name}`), { method: 'DELETE', headers: AUTH });
    }
  }
  ctx.results.addAll(bigScenario(size), collected, units);
}
