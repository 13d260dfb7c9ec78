import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { DataSource } from 'typeorm';
import { ThumbnailEntity } from '../src/storage/database/entities/thumbnail.entity';
import { ThumbnailService } from '../src/storage/thumbnails/thumbnail.service';
import { binaryParser, photoJpeg } from './harness/images';
import { rawRequest } from './harness/raw-http';
import { createTestApp, listFiles, type TestApp } from './harness/test-app';
import { enc } from './harness/util';

/** A large PNG (photo-like noise), slow enough to render that a flood really loads the queue. */
async function largePng(): Promise<Buffer> {
  return sharp(await photoJpeg(1600, 1200))
    .png({ compressionLevel: 1 })
    .toBuffer();
}

const FITS = ['cover', 'contain', 'inside'];
const FORMATS = ['webp', 'jpeg', 'png', ''];

/** Runs `count` tasks, `width` at a time. */
async function pool<T>(count: number, width: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array<T>(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      results[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
  return results;
}

describe('thumbnails cannot be abused: presets, a derivative cap, a fair queue', () => {
  let t: TestApp;
  const rows = () => t.app.get(DataSource).getRepository(ThumbnailEntity);
  const url = (p: string) => `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}${p}`;
  const thumb = (key: string, query: string) =>
    t.http
      .get(`/storage/thumbnail/${enc(key)}${query}`)
      .buffer(true)
      .parse(binaryParser);
  const dims = async (data: Buffer) => {
    const meta = await sharp(data).metadata();
    return [meta.width, meta.height];
  };
  const sourceHash = async (key: string) =>
    (await t.app.get(DataSource).query('SELECT objectHash FROM storage_files WHERE name = ?', [key]))[0]
      .objectHash as string;

  beforeAll(async () => {
    t = await createTestApp({
      config: { rateLimit: false, thumbnails: { maxDerivativesPerSource: 16, concurrency: 2 } },
    });
  });
  afterAll(() => t.close());

  it('snaps an anonymous size to the smallest preset covering it; a token holder gets the size asked', async () => {
    const key = `${t.prefix}/snap.jpg`;
    await t.service.uploadByFile({ file: key, data: await photoJpeg(1200, 1200), contentType: 'image/jpeg' });
    expect(await dims((await thumb(key, '?width=100&height=90&format=png').expect(200)).body)).toEqual([120, 120]);
    expect(await dims((await thumb(key, '?width=121&format=png').expect(200)).body)).toEqual([240, 240]);
    expect(await dims((await thumb(key, '?width=1000&height=1000&format=png').expect(200)).body)).toEqual([960, 960]);
    expect(await dims((await thumb(key, '?width=64&height=64&format=png').expect(200)).body)).toEqual([64, 64]);
    const exact = await thumb(key, '?width=100&height=90&format=png').set('Authorization', t.auth).expect(200);
    expect(await dims(exact.body)).toEqual([100, 90]);
    // A public route sent a wrong token says so rather than treating the caller as anonymous.
    await thumb(key, '?width=100').set('Authorization', 'Bearer nope').expect(401);
  });

  it('stores at most maxDerivativesPerSource; later sizes are served, not stored, even in a race', async () => {
    const key = `${t.prefix}/cap.jpg`;
    await t.service.uploadByFile({ file: key, data: await photoJpeg(300, 300), contentType: 'image/jpeg' });
    const hash = await sourceHash(key);
    const asked = Array.from({ length: 24 }, (_, i) => `?width=${10 + i}&height=${20 + i}&format=png`);
    // Eight at a time: one client may have 8 renders waiting (maxQueuePerClient); two render at once.
    const answers = await pool(asked.length, 8, (i) => thumb(key, asked[i]).set('Authorization', t.auth).expect(200));
    for (const [i, res] of answers.entries()) expect(await dims(res.body)).toEqual([10 + i, 20 + i]);
    expect(await rows().countBy({ sourceKeyHash: hash })).toBe(16);
    expect(listFiles(path.join(t.dataDir, 'files', '.thumbnails', hash))).toHaveLength(16);
    // A stored size is still read back; an unstored one is rendered again, same bytes.
    const stored = (await rows().findBy({ sourceKeyHash: hash })).map((r) => r.params);
    const unstored = asked.find((_, i) => !stored.includes(`${10 + i}x${20 + i}-cover-png`)) as string;
    const first = await thumb(key, unstored).set('Authorization', t.auth).expect(200);
    const again = await thumb(key, unstored).set('Authorization', t.auth).expect(200);
    expect(again.headers.etag).toBe(first.headers.etag);
    expect(await rows().countBy({ sourceKeyHash: hash })).toBe(16);
  });

  it("a flood of 1,000 anonymous sizes stores at most the cap and leaves a token holder's request served", async () => {
    const key = `${t.prefix}/flood.png`;
    const png = await largePng();
    await t.service.uploadByFile({ file: key, data: png, contentType: 'image/png' });
    const hash = await sourceHash(key);
    const stats = t.app.get(ThumbnailService).stats;
    const calm = Date.now();
    await thumb(key, '?width=300&height=200&format=webp').set('Authorization', t.auth).expect(200);
    const calmLatency = Date.now() - calm;
    const rendersBefore = stats.renders;

    const started = Date.now();
    const statuses = new Map<number, number>();
    const flood = pool(1000, 40, async (i) => {
      const size = `width=${1 + ((i * 7) % 1000)}&height=${1 + ((i * 13) % 1000)}`;
      const query = `?${size}&fit=${FITS[i % 3]}&format=${FORMATS[Math.floor(i / 3) % 4]}`;
      const res = await rawRequest(url(`/storage/thumbnail/${enc(key)}${query}`));
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    });
    // While the flood runs, a token holder asks for a size of its own, three times.
    const latencies: number[] = [];
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 300));
      const asked = Date.now();
      const res = await rawRequest(url(`/storage/thumbnail/${enc(key)}?width=${333 + i}&height=222&format=webp`), {
        headers: { Authorization: t.auth },
      });
      latencies.push(Date.now() - asked);
      expect(res.status).toBe(200);
      expect(await dims(res.body)).toEqual([333 + i, 222]);
    }
    await flood;
    const elapsed = Date.now() - started;

    const stored = await rows().countBy({ sourceKeyHash: hash });
    expect(stored).toBeLessThanOrEqual(16);
    expect(listFiles(path.join(t.dataDir, 'files', '.thumbnails', hash)).length).toBeLessThanOrEqual(16);
    expect([...statuses.keys()].sort()).toEqual(expect.arrayContaining([200]));
    // 429: this client's share of the render queue was full; nothing else may happen.
    expect([...statuses.keys()].every((s) => s === 200 || s === 429)).toBe(true);
    console.log(
      `flood: 1000 anonymous requests in ${elapsed} ms; statuses ${JSON.stringify(Object.fromEntries(statuses))}; ` +
        `renders ${stats.renders - rendersBefore}; stored derivatives ${stored} (cap 16); ` +
        `token holder latency ${latencies.join(', ')} ms, ${calmLatency} ms without the flood (source ${(png.length / 1024 ** 2).toFixed(1)} MiB PNG, 1600x1200)`,
    );
  }, 240_000);
});
