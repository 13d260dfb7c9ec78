/**
 * Thumbnails of a 12-megapixel JPEG (4000 x 3000): the first request of each of a few sources
 * (rendered with sharp and stored), then the cached one (read back from storage) under load at
 * 16 connections. There is no baseline: the figures stand on their own (PERFORMANCE.md: a render
 * is ~29 ms of one core here; imgproxy serves ~80 thumbnails/s on 2 vCPU).
 */
import { photoJpeg } from '../../test/harness/images';
import { log, subjectOf, type BenchContext } from '../context';
import { expectJson, request } from '../http';
import { load } from '../load';
import { AUTH, type ServiceProcess } from '../processes';
import { interleave, type Run } from '../report';

export const THUMBNAIL_SCENARIO = 'thumbnail 12 MP JPEG';
const CONNECTIONS = 16;
const ACCEPT = { Accept: 'image/webp,*/*' };

/**
 * Uploads `count` copies of the photo under distinct keys; returns the first request's ms of each
 * and the ms of the same thumbnail asked again, one request at a time.
 */
async function firstRenders(
  service: ServiceProcess,
  jpeg: Buffer,
  count: number,
): Promise<{ first: number[]; again: number[] }> {
  const ms: number[] = [];
  const again: number[] = [];
  for (let i = 0; i < count; i++) {
    const key = `bench/photo-${i}.jpg`;
    await expectJson(service.url(`/storage/files/${key}`), 201, {
      method: 'PUT',
      headers: { ...AUTH, 'Content-Type': 'image/jpeg' },
      body: jpeg,
    });
    const first = await request(service.url(`/storage/thumbnail/${key}`), { headers: ACCEPT });
    if (first.status !== 200) throw new Error(`first thumbnail: ${first.status} ${first.text.slice(0, 200)}`);
    ms.push(first.seconds * 1000);
    for (let j = 0; j < 3; j++)
      again.push((await request(service.url(`/storage/thumbnail/${key}`), { headers: ACCEPT })).seconds * 1000);
  }
  return { first: ms, again };
}

export async function thumbnails(ctx: BenchContext): Promise<void> {
  const { options } = ctx;
  log(`${THUMBNAIL_SCENARIO}: making the source image`);
  const jpeg = await photoJpeg(4000, 3000);
  const sources = options.quick ? 2 : 4;
  for (const service of ctx.services) {
    const { first, again } = await firstRenders(service, jpeg, sources);
    ctx.results.add(THUMBNAIL_SCENARIO, subjectOf(service), 'first ms', 'ms', first);
    ctx.results.add(THUMBNAIL_SCENARIO, subjectOf(service), 'cached ms (alone)', 'ms', again);
  }
  const runs: Run[] = ctx.services.map((service) => ({
    subject: subjectOf(service),
    run: async () => {
      const r = await load({
        url: service.url('/storage/thumbnail/bench/photo-0.jpg'),
        headers: ACCEPT,
        connections: CONNECTIONS,
        seconds: options.seconds,
      });
      return { 'cached req/s': r.perSecond, 'cached p50': r.p50Ms, 'cached p99': r.p99Ms, failed: r.failed };
    },
  }));
  log(`${THUMBNAIL_SCENARIO}: cached, ${options.rounds} rounds at ${CONNECTIONS} connections`);
  const units = { 'cached req/s': 'req/s', 'cached p50': 'ms', 'cached p99': 'ms' };
  ctx.results.addAll(THUMBNAIL_SCENARIO, await interleave(options.rounds, runs), units);
  const first = ctx.results.get(THUMBNAIL_SCENARIO, subjectOf(ctx.services[0]), 'first ms');
  const cached = ctx.results.get(THUMBNAIL_SCENARIO, subjectOf(ctx.services[0]), 'cached ms (alone)');
  if (first && cached) {
    const times = (first.median / cached.median).toFixed(0);
    ctx.results.notes.push(`thumbnail: a first render takes ${times}x as long as a cached one (one request at a time)`);
  }
}
