import sharp from 'sharp';
import { ThumbnailService } from '../src/storage/thumbnails/thumbnail.service';
import { binaryParser, photoJpeg } from './harness/images';
import { s3Instance } from './harness/peers/instances';
import { startS3rver, type S3Peer } from './harness/peers/s3rver';
import { createTestApp, type TestApp } from './harness/test-app';

/** Preview and stored thumbnails on a cloud backend (S3 through s3rver): derivatives live beside their source. */
describe('preview and thumbnails on S3', () => {
  let s3: S3Peer;
  let t: TestApp;
  const storage = 'storages.S3';

  beforeAll(async () => {
    s3 = await startS3rver(['thumbs-bucket']);
    t = await createTestApp({
      config: {
        storages: {
          [storage]: s3Instance(s3, 'thumbs-bucket'),
        },
      },
    });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await s3?.close();
  });

  const derived = async () => {
    const keys: string[] = [];
    for await (const object of t.service.instance(storage).driver.list('.thumbnails/')) keys.push(object.key);
    return keys;
  };

  it('renders once into the bucket, serves it back, previews with ranges, and deletes both', async () => {
    const key = `${t.prefix}/cloud/photo.jpg`;
    await t.service.uploadByFile({ file: key, data: await photoJpeg(640, 480), contentType: 'image/jpeg', storage });
    const stats = t.app.get(ThumbnailService).stats;
    const renders = stats.renders;
    const url = `/storage/thumbnail/${key}?storage=${storage}&width=80&height=60&format=webp`;
    // 80 x 60 is no preset: asked with a token, which gets the exact size.
    const get = () => t.http.get(url).set('Authorization', t.auth).buffer(true).parse(binaryParser);
    const first = await get().expect(200);
    const second = await get().expect(200);
    expect(stats.renders).toBe(renders + 1);
    expect(second.body).toEqual(first.body);
    const meta = await sharp(second.body).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['webp', 80, 60]);
    expect(await derived()).toHaveLength(1);

    const preview = await t.http
      .get(`/storage/preview/${key}?storage=${storage}`)
      .set('Range', 'bytes=-2')
      .buffer(true)
      .parse(binaryParser)
      .expect(206);
    expect(preview.body).toEqual(Buffer.from([0xff, 0xd9])); // a JPEG's last two bytes
    expect(preview.headers['content-disposition']).toMatch(/^inline;/);

    await t.service.delete(key, storage);
    expect(await derived()).toEqual([]);
    await t.http.get(url).expect(404);
  });
});
