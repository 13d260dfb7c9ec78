import { randomBytes } from 'node:crypto';
import { StorageRegistry } from '../src/storage/registry/storage-registry';
import { startOssServer, type OssServer } from './oss-server/oss-server';
import { startAzurite, type AzurePeer } from './harness/peers/azurite';
import { azureInstance, minioInstance, ossInstance } from './harness/peers/instances';
import { startS3rver, type S3Peer } from './harness/peers/s3rver';
import { createTestApp, type TestApp } from './harness/test-app';
import { baseUrl, clientUpload, tusRequest } from './harness/tus';
import { md5 } from './harness/util';

const OSS_ACCOUNT = { accessKeyId: 'LTAI-tus-id', accessKeySecret: 'oss-tus-secret' };
const MiB = 1024 * 1024;

/**
 * tus-js-client uploads in several PATCHes to MinIO, OSS and Azure (S3 and local disk are in
 * tus-client.e2e-spec.ts): each piece staged in the instance's backend, the file recorded through
 * the normal path, nothing left staged.
 */
describe('resumable uploads (tus) on MinIO, OSS and Azure', () => {
  let s3: S3Peer;
  let azure: AzurePeer;
  let oss: OssServer;
  let t: TestApp;

  beforeAll(async () => {
    [s3, azure, oss] = await Promise.all([
      startS3rver(['tus-minio']),
      startAzurite(),
      startOssServer({ ...OSS_ACCOUNT, buckets: ['tus-oss'] }),
    ]);
    t = await createTestApp({
      config: {
        storages: {
          'storages.Minio': minioInstance(s3, 'tus-minio'),
          'storages.Oss': ossInstance(oss, 'tus-oss', OSS_ACCOUNT),
          'storages.Azure': azureInstance(azure, 'tus-azure'),
        },
      },
    });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await Promise.all([s3?.close(), azure?.close(), oss?.close()]);
  });

  it.each(['storages.Minio', 'storages.Oss', 'storages.Azure'])('%s: three PATCHes, one record', async (storage) => {
    const data = randomBytes(5 * MiB + 7);
    const name = `${t.prefix}/${storage.slice(9)}/resumed.bin`;
    const { record } = await clientUpload(`${baseUrl(t)}/storage/tus`, t.auth, data, {
      chunkSize: 2 * MiB,
      metadata: { name, filename: 'resumed.bin', storage },
    });
    expect(record).toMatchObject({ name, size: data.length, md5: md5(data), storeFullName: storage });
    const got = await tusRequest(baseUrl(t), 'GET', `/storage/files/${name}?storage=${storage}`, { auth: t.auth });
    expect(md5(got.body)).toBe(md5(data));
    const left: string[] = [];
    for await (const o of t.app.get(StorageRegistry).get(storage).driver.list('.uploads/tus/')) left.push(o.key);
    expect(left).toEqual([]);
  });
});
