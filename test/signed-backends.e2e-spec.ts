import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { startOssServer, type OssServer } from './oss-server/oss-server';
import { startAzurite, type AzurePeer } from './harness/peers/azurite';
import { startS3rver, type S3Peer } from './harness/peers/s3rver';
import { binaryParser } from './harness/images';
import { azureInstance, s3Instance, minioInstance } from './harness/peers/instances';
import { createTestApp, type TestApp } from './harness/test-app';
import { md5 } from './harness/util';

const OSS_ID = 'LTAI-e2e-id';
const OSS_SECRET = 'oss-e2e-secret';

/**
 * `getSignUrl` on every backend: the URL it gives is used with a plain HTTP PUT, or a browser's
 * form POST for S3 and MinIO (fetch, no SDK),
 * the upload is completed where the backend needs it, and the file then downloads through the
 * service with the same bytes.
 */
describe('signed upload URLs on every backend', () => {
  let s3: S3Peer;
  let azure: AzurePeer;
  let oss: OssServer;
  let t: TestApp;

  beforeAll(async () => {
    [s3, azure, oss] = await Promise.all([
      startS3rver(['signed-s3', 'signed-minio']),
      startAzurite(),
      startOssServer({ accessKeyId: OSS_ID, accessKeySecret: OSS_SECRET, buckets: ['signed-oss'] }),
    ]);
    t = await createTestApp({
      config: {
        storages: {
          'storages.S3': s3Instance(s3, 'signed-s3'),
          'storages.Minio': minioInstance(s3, 'signed-minio'),
          'storages.Oss': {
            type: 'storages.OssType',
            endpoint: oss.endpoint,
            sldEnable: true,
            accessKeyId: OSS_ID,
            accessKeySecret: OSS_SECRET,
            bucket: 'signed-oss',
          },
          'storages.Azure': azureInstance(azure, 'signed-azure'),
        },
      },
    });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await Promise.all([s3?.close(), azure?.close(), oss?.close()]);
  });

  it.each(['storages.Default', 'storages.S3', 'storages.Minio', 'storages.Oss', 'storages.Azure'])(
    '%s: sign, plain PUT (form POST on S3, MinIO and OSS), complete, download',
    async (storage) => {
      const file = `${t.prefix}/${storage.slice(9)}/direct upload.png`;
      const data = randomBytes(200_000);
      const signed = await t.http
        .post('/storage/sign')
        .set('Authorization', t.auth)
        .send({ file, contentType: 'image/png', storage })
        .expect(200);
      const form = ['storages.S3', 'storages.Minio', 'storages.Oss'].includes(storage);
      expect(signed.body).toMatchObject(
        form ? { method: 'POST', headers: {} } : { method: 'PUT', headers: { 'Content-Type': 'image/png' } },
      );
      expect(signed.body.expiresAt).toBeGreaterThan(Date.now());

      // The local URL names the service's public address; in the test that is the app's port.
      const { port } = t.app.getHttpServer().address() as AddressInfo;
      const url = String(signed.body.url).replace('http://storage.test', `http://127.0.0.1:${port}`);
      let body: Buffer | FormData = data;
      if (form) {
        body = new FormData();
        for (const [name, value] of Object.entries(signed.body.fields as Record<string, string>))
          body.append(name, value);
        body.append('file', new Blob([data], { type: 'image/png' }), 'direct upload.png');
      }
      const put = await fetch(url, { method: signed.body.method, headers: signed.body.headers, body });
      expect([200, 201, 204]).toContain(put.status);

      if (storage !== 'storages.Default') {
        const done = await t.http
          .post('/storage/sign/complete')
          .set('Authorization', t.auth)
          .send({ file, storage })
          .expect(201);
        expect(done.body).toMatchObject({ name: file, md5: md5(data), size: data.length, type: 'image/png' });
      }
      const back = await t.http
        .get(`/storage/files/${file.split('/').map(encodeURIComponent).join('/')}?storage=${storage}`)
        .set('Authorization', t.auth)
        .buffer(true)
        .parse(binaryParser)
        .expect(200);
      expect(md5(back.body)).toBe(md5(data));
    },
  );

  it.each(['storages.Default', 'storages.S3', 'storages.Minio', 'storages.Oss', 'storages.Azure'])(
    '%s: a signed GET reads the current version with plain fetch, named as uploaded, and only that version',
    async (storage) => {
      const file = `${t.prefix}/${storage.slice(9)}/signed get.bin`;
      const path = `/storage/files/${file.split('/').map(encodeURIComponent).join('/')}?storage=${storage}`;
      const upload = (data: Buffer) =>
        t.http.put(path).set('Authorization', t.auth).set('Content-Type', 'application/octet-stream').send(data);
      const first = randomBytes(50_000);
      await upload(first).expect(201);
      const signed = await t.http
        .post('/storage/sign')
        .set('Authorization', t.auth)
        .send({ file, method: 'GET', storage, expiresIn: 120 })
        .expect(200);
      expect(signed.body).toMatchObject({ method: 'GET', headers: {} });
      const { port } = t.app.getHttpServer().address() as AddressInfo;
      const url = String(signed.body.url).replace('http://storage.test', `http://127.0.0.1:${port}`);
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(md5(Buffer.from(await res.arrayBuffer()))).toBe(md5(first));
      expect(res.headers.get('content-disposition')).toContain("filename*=UTF-8''signed%20get.bin");
      // An overwrite makes a new version: the cloud URL still names the old one (until it is
      // removed), the local one reads the path's current record.
      const second = randomBytes(1000);
      await upload(second).expect(201);
      const again = await fetch(url);
      const expected = storage === 'storages.Default' ? second : first;
      expect(md5(Buffer.from(await again.arrayBuffer()))).toBe(md5(expected));
    },
  );
});
