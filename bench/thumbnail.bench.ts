/**
 * Thumbnails made once: the real app (test harness: SQLite, or MySQL with DB_URL) over HTTP.
 *
 * 1. A pixel bomb (a ~400-byte PNG declaring 30000 x 30000) must be refused with a 4xx while the
 *    process's peak RSS (VmHWM, reset just before) grows by less than 100 MiB.
 * 2. The first render of a 12-megapixel JPEG thumbnail against the same thumbnail served again
 *    (read back from storage, no sharp): the median cached request must be at least 20x faster.
 *
 *   npm run bench:thumbnail            (RUNS=5 CACHED=20 by default)
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ThumbnailService } from '../src/storage/thumbnails/thumbnail.service';
import { photoJpeg, pixelBombPng } from '../test/harness/images';
import { createTestApp, type TestApp } from '../test/harness/test-app';

const RUNS = Number(process.env.RUNS ?? 5);
const CACHED = Number(process.env.CACHED ?? 20);
const MIN_RATIO = 20;
const MAX_GROWTH_MIB = 100;
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function mib(field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync('/proc/self/status', 'utf8'));
  if (!match) throw new Error(`no ${field} in /proc/self/status`);
  return Number(match[1]) / 1024;
}

/** Resets VmHWM to the current RSS (Linux: "5" to clear_refs), so the next peak is this step's. */
function resetPeak(): void {
  fs.writeFileSync('/proc/self/clear_refs', '5');
}

function get(t: TestApp, path: string): Promise<{ status: number; ms: number; bytes: number }> {
  const { port } = t.app.getHttpServer().address() as AddressInfo;
  const start = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent, headers: { Accept: 'image/webp,*/*' } }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, ms: Number(process.hrtime.bigint() - start) / 1e6, bytes }),
      );
    });
    req.on('error', reject);
  });
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function bomb(t: TestApp): Promise<{ status: number; growth: number }> {
  const key = `${t.prefix}/bomb.png`;
  await t.service.uploadByFile({ file: key, data: pixelBombPng(), contentType: 'image/png' });
  global.gc?.();
  resetPeak();
  const before = mib('VmRSS');
  const statuses = new Set<number>();
  for (let i = 0; i < 5; i++) statuses.add((await get(t, `/storage/thumbnail/${key}?width=${100 + i}`)).status);
  const growth = mib('VmHWM') - before;
  return { status: statuses.size === 1 ? [...statuses][0] : 0, growth };
}

async function renderVersusCached(t: TestApp): Promise<{ first: number; cached: number; renders: number }> {
  const jpeg = await photoJpeg(4000, 3000);
  console.log(`source: 4000 x 3000 JPEG, ${(jpeg.length / 1024 ** 2).toFixed(1)} MiB`);
  const warm = `${t.prefix}/warm.jpg`;
  await t.service.uploadByFile({ file: warm, data: await photoJpeg(400, 300), contentType: 'image/jpeg' });
  for (let i = 0; i < 3; i++) await get(t, `/storage/thumbnail/${warm}?width=${50 + i}`);
  const stats = t.app.get(ThumbnailService).stats;
  const rendersBefore = stats.renders;
  const firsts: number[] = [];
  const cached: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const key = `${t.prefix}/photo-${i}.jpg`;
    await t.service.uploadByFile({ file: key, data: jpeg, contentType: 'image/jpeg' });
    const first = await get(t, `/storage/thumbnail/${key}`);
    if (first.status !== 200) throw new Error(`first render answered ${first.status}`);
    firsts.push(first.ms);
    for (let j = 0; j < CACHED; j++) cached.push((await get(t, `/storage/thumbnail/${key}`)).ms);
  }
  return { first: median(firsts), cached: median(cached), renders: stats.renders - rendersBefore };
}

async function main(): Promise<void> {
  const t = await createTestApp();
  try {
    const b = await bomb(t);
    console.log(`pixel bomb 30000 x 30000: HTTP ${b.status}, peak RSS growth ${b.growth.toFixed(1)} MiB`);
    const r = await renderVersusCached(t);
    const ratio = r.first / r.cached;
    console.log(
      `12 MP thumbnail: first render ${r.first.toFixed(1)} ms, cached ${r.cached.toFixed(2)} ms ` +
        `(medians of ${RUNS} and ${RUNS * CACHED}), ${ratio.toFixed(1)}x; renders: ${r.renders} for ${RUNS} thumbnails`,
    );
    const failures = [
      b.status >= 400 && b.status < 500 ? null : `the bomb answered ${b.status}, not a 4xx`,
      b.growth < MAX_GROWTH_MIB ? null : `the bomb grew RSS by ${b.growth.toFixed(1)} MiB (limit ${MAX_GROWTH_MIB})`,
      ratio >= MIN_RATIO ? null : `cached is only ${ratio.toFixed(1)}x faster (need ${MIN_RATIO}x)`,
      r.renders === RUNS ? null : `${r.renders} renders for ${RUNS} thumbnails: the cache was not used`,
    ].filter(Boolean);
    for (const failure of failures) console.error(`FAIL: ${failure}`);
    process.exitCode = failures.length ? 1 : 0;
  } finally {
    agent.destroy();
    await t.close();
  }
}

void main();
