import * as path from 'node:path';
import sharp from 'sharp';
import { DataSource, type Repository } from 'typeorm';
import { RetiredObjectEntity } from '../src/storage/database/entities/retired-object.entity';
import { ObjectPurger } from '../src/storage/purge/object-purger';
import { ThumbnailEntity } from '../src/storage/database/entities/thumbnail.entity';
import { ThumbnailService } from '../src/storage/thumbnails/thumbnail.service';
import { animatedGif, binaryParser, photoJpeg, pixelBombPng, rotatedJpeg, transparentPng } from './harness/images';
import { createTestApp, listFiles, type TestApp } from './harness/test-app';
import { enc } from './harness/util';

describe('thumbnails over HTTP', () => {
  let t: TestApp;
  let thumbs: ThumbnailService;
  let rows: () => Repository<ThumbnailEntity>;
  let photoKey: string;

  beforeAll(async () => {
    t = await createTestApp();
    thumbs = t.app.get(ThumbnailService);
    rows = () => t.app.get(DataSource).getRepository(ThumbnailEntity);
    photoKey = `${t.prefix}/photos/landscape.jpg`;
    await t.service.uploadByFile({ file: photoKey, data: await photoJpeg(400, 200), contentType: 'image/jpeg' });
  });
  afterAll(() => t.close());

  const thumb = (key: string, query = '') =>
    t.http
      .get(`/storage/thumbnail/${enc(key)}${query}`)
      .buffer(true)
      .parse(binaryParser);
  /** As a token holder: any size, not only the presets. */
  const exact = (key: string, query: string) => thumb(key, query).set('Authorization', t.auth);
  const size = async (data: Buffer) => {
    const meta = await sharp(data).metadata();
    return [meta.format, meta.width, meta.height];
  };
  const derivedFiles = () => listFiles(path.join(t.dataDir, 'files', '.thumbnails'));

  it('makes 120 x 120 by default, public, WebP when Accept names it, with the response headers', async () => {
    const res = await thumb(photoKey).set('Accept', 'image/avif,image/webp,*/*;q=0.8').expect(200);
    expect(await size(res.body)).toEqual(['webp', 120, 120]);
    expect(res.headers).toMatchObject({
      'content-type': 'image/webp',
      'content-length': String(res.body.length),
      'accept-ranges': 'bytes',
      'x-content-type-options': 'nosniff',
      'content-security-policy': 'sandbox',
      vary: 'Accept',
      'cache-control': 'public, max-age=300',
    });
    expect(res.headers.etag).toMatch(/^"[a-f0-9]{32}"$/);
    expect(res.headers['last-modified']).toEqual(expect.any(String));
    expect(res.headers['content-disposition']).toBe(
      `inline; filename="landscape.webp"; filename*=UTF-8''landscape.webp`,
    );

    const jpeg = await thumb(photoKey).set('Accept', 'image/*').expect(200);
    expect(await size(jpeg.body)).toEqual(['jpeg', 120, 120]);
    const png = await thumb(photoKey, '?format=png').set('Accept', 'image/webp').expect(200);
    expect(await size(png.body)).toEqual(['png', 120, 120]);
    expect(png.headers.vary).toBeUndefined();
    const alpha = `${t.prefix}/photos/alpha.png`;
    await t.service.uploadByFile({ file: alpha, data: await transparentPng(), contentType: 'image/png' });
    expect(await size((await thumb(alpha).expect(200)).body)).toEqual(['png', 120, 120]);
  });

  it.each([
    ['cover', '?width=100&height=100', [100, 100]],
    ['contain', '?width=100&height=100&fit=contain', [100, 100]],
    ['inside', '?width=100&height=100&fit=inside', [100, 50]],
    ['width only (height defaults to 120)', '?width=60', [60, 120]],
  ])('fit: %s', async (_label, query, [w, h]) => {
    const res = await exact(photoKey, `${query}&format=png`).expect(200);
    expect(await size(res.body)).toEqual(['png', w, h]);
  });

  it('applies EXIF orientation and takes the first frame of an animation', async () => {
    const rotated = `${t.prefix}/photos/rotated.jpg`;
    await t.service.uploadByFile({ file: rotated, data: await rotatedJpeg(), contentType: 'image/jpeg' });
    const turned = await exact(rotated, '?width=100&height=100&fit=inside&format=png').expect(200);
    expect(await size(turned.body)).toEqual(['png', 50, 100]);

    const gif = `${t.prefix}/photos/anim.gif`;
    await t.service.uploadByFile({ file: gif, data: await animatedGif(), contentType: 'image/gif' });
    for (const format of ['webp', 'png']) {
      const res = await exact(gif, `?width=20&height=20&format=${format}`).expect(200);
      const meta = await sharp(res.body, { animated: true }).metadata();
      expect([format, meta.width, meta.height, meta.pages ?? 1]).toEqual([format, 20, 20, 1]);
      const { data } = await sharp(res.body).raw().toBuffer({ resolveWithObject: true });
      expect([data[0] > 200, data[1] < 60, data[2] < 60]).toEqual([true, true, true]); // red: frame one
    }
  });

  it.each([
    ['width=0', 'width'],
    ['width=-5', 'width'],
    ['width=abc', 'width'],
    ['width=1.5', 'width'],
    ['width=1025', 'width'],
    ['height=5000', 'height'],
    ['fit=fill', 'fit'],
    ['format=gif', 'format'],
    ['format=svg', 'format'],
  ])('?%s → 400 naming %s', async (query, field) => {
    const res = await t.http.get(`/storage/thumbnail/${enc(photoKey)}?${query}`).expect(400);
    expect(res.body.code).toBe('E_INVALID_ARGUMENT');
    expect(res.body.message).toContain(field);
  });

  it.each([
    ['text', 'notes.txt', 'text/plain', 'hello'],
    ['HTML declared as PNG', 'fake.png', 'image/png', '<html><script>alert(1)</script></html>'],
    [
      'SVG',
      'vector.svg',
      'image/svg+xml',
      '<svg xmlns="http://www.w3.org/2000/svg"><rect width="9" height="9"/></svg>',
    ],
    ['a truncated JPEG header', 'broken.jpg', 'image/jpeg', Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16])],
    ['empty', 'empty.png', 'image/png', Buffer.alloc(0)],
  ])('%s → 415', async (_label, name, contentType, data) => {
    const key = `${t.prefix}/not-images/${name}`;
    await t.service.uploadByFile({ file: key, data, contentType });
    const res = await t.http.get(`/storage/thumbnail/${enc(key)}`).expect(415);
    expect(res.body.code).toBe('E_UNSUPPORTED_MEDIA_TYPE');
  });

  it('refuses a pixel bomb from its header with a 413, without decoding it', async () => {
    const key = `${t.prefix}/bomb.png`;
    await t.service.uploadByFile({ file: key, data: pixelBombPng(), contentType: 'image/png' });
    const before = process.memoryUsage().rss;
    const renders = thumbs.stats.renders;
    const res = await t.http.get(`/storage/thumbnail/${enc(key)}`).expect(413);
    expect(res.body.message).toContain('30000 x 30000');
    expect(thumbs.stats.renders).toBe(renders);
    expect(process.memoryUsage().rss - before).toBeLessThan(100 * 1024 ** 2);
  });

  it('renders once, then serves the stored derivative without sharp: 304, ranges, HEAD', async () => {
    const key = `${t.prefix}/photos/once.jpg`;
    await t.service.uploadByFile({ file: key, data: await photoJpeg(300, 300), contentType: 'image/jpeg' });
    const renders = thumbs.stats.renders;
    const first = await thumb(key, '?width=64&height=64&format=webp').expect(200);
    expect(thumbs.stats.renders).toBe(renders + 1);
    const hits = thumbs.stats.hits;
    const second = await thumb(key, '?width=64&height=64&format=webp').expect(200);
    expect(thumbs.stats).toMatchObject({ renders: renders + 1, hits: hits + 1 });
    expect(second.body).toEqual(first.body);
    expect(second.headers.etag).toBe(first.headers.etag);
    expect(second.headers['last-modified']).toBe(first.headers['last-modified']);

    await thumb(key, '?width=64&height=64&format=webp').set('If-None-Match', first.headers.etag).expect(304);
    const range = await thumb(key, '?width=64&height=64&format=webp').set('Range', 'bytes=0-3').expect(206);
    expect(range.body.toString('latin1')).toBe('RIFF');
    expect(range.headers['content-range']).toBe(`bytes 0-3/${first.body.length}`);
    const head = await t.http.head(`/storage/thumbnail/${enc(key)}?width=64&height=64&format=webp`).expect(200);
    expect(head.headers['content-length']).toBe(String(first.body.length));
    expect(thumbs.stats.renders).toBe(renders + 1);
  });

  it('renders a thumbnail once when many ask for it at the same time', async () => {
    const key = `${t.prefix}/photos/busy.jpg`;
    await t.service.uploadByFile({ file: key, data: await photoJpeg(800, 600), contentType: 'image/jpeg' });
    const renders = thumbs.stats.renders;
    const all = await Promise.all(Array.from({ length: 6 }, () => thumb(key, '?format=jpeg')));
    expect(all.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(new Set(all.map((r) => r.headers.etag)).size).toBe(1);
    expect(thumbs.stats.renders).toBe(renders + 1);
  });

  it('keeps derivatives per version: a new version gets its own, and each goes with its object', async () => {
    const key = `${t.prefix}/photos/short-lived.jpg`;
    await t.service.uploadByFile({ file: key, data: await photoJpeg(200, 200), contentType: 'image/jpeg' });
    const first = await thumb(key, '?format=png').expect(200);
    await thumb(key, '?format=jpeg&width=50').expect(200);
    const sourceOf = async (etag: string) => (await rows().findOneByOrFail({ md5: etag.slice(1, -1) })).sourceKeyHash;
    const oldHash = await sourceOf(first.headers.etag);
    expect(await rows().countBy({ sourceKeyHash: oldHash })).toBe(2);
    expect(derivedFiles().filter((f) => f.startsWith(oldHash))).toHaveLength(2);

    // The same bytes again are still a new version: never served an older version's thumbnail.
    await t.service.uploadByFile({ file: key, data: await photoJpeg(210, 200), contentType: 'image/jpeg' });
    const replaced = await thumb(key, '?format=png').expect(200);
    expect(replaced.headers.etag).not.toBe(first.headers.etag);
    const newHash = await sourceOf(replaced.headers.etag);
    expect(newHash).not.toBe(oldHash);

    // The old version waits out the readers' grace; once its removal is due, its thumbnails go with it.
    const db = t.app.get(DataSource);
    const queued = await db.getRepository(RetiredObjectEntity).findBy({ objectHash: oldHash });
    expect(queued).toHaveLength(1);
    expect(queued[0].removeAfter).toBeGreaterThan(Date.now() + 60_000);
    await db.getRepository(RetiredObjectEntity).update({ id: queued[0].id }, { removeAfter: 0 });
    expect((await t.app.get(ObjectPurger).purge([queued[0].id])).removed).toBe(1);
    expect(await rows().countBy({ sourceKeyHash: oldHash })).toBe(0);
    expect(derivedFiles().filter((f) => f.startsWith(oldHash))).toEqual([]);
    expect(await rows().countBy({ sourceKeyHash: newHash })).toBe(1);

    await t.http
      .delete(`/storage/files/${enc(key)}`)
      .set('Authorization', t.auth)
      .expect(204);
    expect(await rows().countBy({ sourceKeyHash: newHash })).toBe(0);
    expect(derivedFiles().filter((f) => f.startsWith(newHash))).toEqual([]);
    await t.http.get(`/storage/thumbnail/${enc(key)}`).expect(404);
  });

  it('answers 404 for a missing or expired source and 400 for an unknown storage', async () => {
    await t.http.get(`/storage/thumbnail/${t.prefix}/none.jpg`).expect(404);
    await t.http.get(`/storage/thumbnail/${enc(photoKey)}?storage=storages.Nope`).expect(400);
    const key = `${t.prefix}/photos/expiring.jpg`;
    await t.service.uploadByFile({ file: key, data: await photoJpeg(50, 50), contentType: 'image/jpeg', expires: 60 });
    await thumb(key).expect(200);
    await t.app.get(DataSource).query('UPDATE storage_files SET expires = 1 WHERE name = ?', [key]);
    await t.http.get(`/storage/thumbnail/${enc(key)}`).expect(404);
  });

  it('serves a cached 12-megapixel thumbnail much faster than its first render', async () => {
    const key = `${t.prefix}/photos/12mp.jpg`;
    await t.service.uploadByFile({ file: key, data: await photoJpeg(4000, 3000), contentType: 'image/jpeg' });
    const firsts: number[] = [];
    const cached: number[] = [];
    for (let i = 0; i < 3; i++) {
      const query = `?width=${100 + i}&format=webp`;
      firsts.push(await timed(() => exact(key, query).expect(200)));
      for (let j = 0; j < 5; j++) cached.push(await timed(() => exact(key, query).expect(200)));
    }
    const ratio = median(firsts) / median(cached);
    // The benchmark (npm run bench:thumbnail) holds the real bound (20x); a loaded CI box gets slack.
    expect(ratio).toBeGreaterThan(5);
  });
});

async function timed(run: () => PromiseLike<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await run();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}
