import { randomBytes } from 'node:crypto';
import { startAzurite, type AzurePeer } from './harness/peers/azurite';
import { startS3rver, type S3Peer } from './harness/peers/s3rver';
import { binaryParser } from './harness/images';
import { azureInstance, s3Instance } from './harness/peers/instances';
import { createTestApp, type TestApp } from './harness/test-app';
import { md5 } from './harness/util';

/**
 * The HTTP API, unchanged, against each kind of backend: local disk, S3 (s3rver) and Azure Blob
 * (Azurite), each a real protocol peer started here on a free port.
 */
describe('HTTP API on every backend', () => {
  let s3: S3Peer;
  let azure: AzurePeer;
  let t: TestApp;

  beforeAll(async () => {
    [s3, azure] = await Promise.all([startS3rver(['e2e-bucket']), startAzurite()]);
    t = await createTestApp({
      env: { MAX_UPLOAD_SIZE: '16MB' },
      config: {
        storages: {
          'storages.S3': s3Instance(s3, 'e2e-bucket'),
          'storages.Azure': azureInstance(azure, 'e2e-container'),
        },
      },
    });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await Promise.all([s3?.close(), azure?.close()]);
  });

  describe.each([
    ['storages.Default', 'storages.LocalType'],
    ['storages.S3', 'storages.S3Type'],
    ['storages.Azure', 'storages.AzureBlobType'],
  ])('%s', (storage, type) => {
    const key = (name: string) => `${t.prefix}/${storage.slice(9)}/${name}`;
    const q = `storage=${encodeURIComponent(storage)}`;

    it('multipart upload, ranged download, HEAD, meta, list and delete', async () => {
      const data = randomBytes(5 * 1024 * 1024 + 1);
      const up = await t.http
        .post(`/storage/files?${q}`)
        .set('Authorization', t.auth)
        .field('name', key('big file ü.bin'))
        .attach('file', data, { filename: 'big file ü.bin', contentType: 'application/octet-stream' })
        .expect(201);
      expect(up.body).toMatchObject({ md5: md5(data), size: data.length, fullName: type, storeFullName: storage });
      const url = `/storage/files/${encodeURIComponent(key('big file ü.bin')).replace(/%2F/g, '/')}?${q}`;

      const whole = await t.http.get(url).set('Authorization', t.auth).buffer(true).parse(binaryParser).expect(200);
      expect(md5(whole.body)).toBe(md5(data));

      const part = await t.http
        .get(url)
        .set('Authorization', t.auth)
        .set('Range', 'bytes=-1')
        .buffer(true)
        .parse(binaryParser);
      expect(part.status).toBe(206);
      expect(part.headers['content-range']).toBe(`bytes ${data.length - 1}-${data.length - 1}/${data.length}`);
      expect(part.body).toEqual(data.subarray(data.length - 1));

      const head = await t.http.head(url).set('Authorization', t.auth).expect(200);
      expect(head.headers['content-length']).toBe(String(data.length));

      const meta = await t.http.get(url.replace('/files/', '/meta/')).set('Authorization', t.auth).expect(200);
      expect(meta.body.id).toBe(up.body.id);
      const list = await t.http
        .get(`/storage/files?${q}&prefix=${encodeURIComponent(key(''))}`)
        .set('Authorization', t.auth);
      expect(list.body.items.map((r: { name: string }) => r.name)).toContain(key('big file ü.bin'));

      await t.http.delete(url).set('Authorization', t.auth).expect(204);
      await t.http.get(url).set('Authorization', t.auth).expect(404);
      expect(await t.service.instance(storage).driver.exists(key('big file ü.bin'))).toBe(false);
    });

    it('md5 naming, a wrong md5 writes nothing, and preview serves the bytes', async () => {
      const data = Buffer.from(`content for ${storage} ${t.prefix}`);
      const put = await t.http
        .put(`/storage/files/${key('named.txt')}?${q}&md5=${md5(data)}`)
        .set('Authorization', t.auth)
        .set('Content-Type', 'text/plain')
        .send(data.toString())
        .expect(201);
      expect(put.body.name).toBe(`${md5(data)}.txt`);

      const preview = await t.http.get(`/storage/preview/${md5(data)}.txt?${q}`).expect(200);
      expect(preview.text).toBe(data.toString());

      const wrong = `${md5('other')}.txt`;
      const res = await t.http
        .put(`/storage/files/${key('wrong.txt')}?${q}&md5=${md5('other')}`)
        .set('Authorization', t.auth)
        .send('not other');
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('E_MD5_MISMATCH');
      expect(await t.service.instance(storage).driver.exists(wrong)).toBe(false);
    });

    it('a body past the limit is refused with 413 and nothing is stored', async () => {
      const res = await t.http
        .post(`/storage/files?${q}`)
        .set('Authorization', t.auth)
        .field('name', key('too-big.bin'))
        .attach('file', Buffer.alloc(16 * 1024 * 1024 + 1), 'too-big.bin');
      expect(res.status).toBe(413);
      expect(await t.service.instance(storage).driver.exists(key('too-big.bin'))).toBe(false);
    });
  });
});
