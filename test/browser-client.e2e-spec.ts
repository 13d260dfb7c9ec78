import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createStorageClient, type StorageClient } from '../src/client';
import { startOssServer, type OssServer } from './oss-server/oss-server';
import { startAzurite, type AzurePeer } from './harness/peers/azurite';
import { startS3rver, type S3Peer } from './harness/peers/s3rver';
import { binaryParser } from './harness/images';
import { azureInstance, minioInstance, s3Instance } from './harness/peers/instances';
import { createTestApp, TOKEN, type TestApp } from './harness/test-app';
import { md5 } from './harness/util';

const OSS_ID = 'LTAI-client-id';
const OSS_SECRET = 'oss-client-secret';
const MIB = 1024 * 1024;
const CLOUD = ['storages.S3', 'storages.Minio', 'storages.Oss', 'storages.Azure'];

/**
 * The browser client (`src/client`) in Node 20 (fetch, Blob and FormData as in a browser; no
 * XMLHttpRequest, so progress comes per request) against the real app and each backend's peer:
 * direct multipart straight to the bucket, one signed request, and direct uploads that record
 * themselves when the client never completes them.
 */
describe('browser client: direct uploads', () => {
  let s3: S3Peer;
  let azure: AzurePeer;
  let oss: OssServer;
  let t: TestApp;
  let client: StorageClient;

  beforeAll(async () => {
    [s3, azure, oss] = await Promise.all([
      startS3rver(['client-s3', 'client-minio']),
      startAzurite(),
      startOssServer({ accessKeyId: OSS_ID, accessKeySecret: OSS_SECRET, buckets: ['client-oss'] }),
    ]);
    t = await createTestApp({
      config: {
        storages: {
          'storages.S3': s3Instance(s3, 'client-s3'),
          'storages.Minio': minioInstance(s3, 'client-minio'),
          'storages.Oss': {
            type: 'storages.OssType',
            endpoint: oss.endpoint,
            sldEnable: true,
            accessKeyId: OSS_ID,
            accessKeySecret: OSS_SECRET,
            bucket: 'client-oss',
          },
          'storages.Azure': azureInstance(azure, 'client-azure'),
        },
      },
    });
    const { port } = t.app.getHttpServer().address() as AddressInfo;
    const origin = `http://127.0.0.1:${port}`;
    // Local signed URLs name the configured public address; in the test that is the app's port.
    const rewrite: typeof fetch = (input, init) =>
      fetch(typeof input === 'string' ? input.replace('http://storage.test', origin) : input, init);
    client = createStorageClient({ baseUrl: `${origin}/storage`, token: TOKEN, fetch: rewrite });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await Promise.all([s3?.close(), azure?.close(), oss?.close()]);
  });

  const download = async (name: string, storage: string) =>
    (
      await t.http
        .get(`/storage/files/${name.split('/').map(encodeURIComponent).join('/')}?storage=${storage}`)
        .set('Authorization', t.auth)
        .buffer(true)
        .parse(binaryParser)
        .expect(200)
    ).body as Buffer;

  it('describes each instance: backend kind and how it takes uploads', async () => {
    const all = await client.instances();
    const byName = Object.fromEntries(all.map((i) => [i.name, i]));
    expect(byName['storages.Default']).toMatchObject({ kind: 'local', uploads: { multipart: null, signed: true } });
    expect(byName['storages.S3']).toMatchObject({ kind: 's3', uploads: { multipart: { minPartSize: 5 * MIB } } });
    expect(byName['storages.Oss'].kind).toBe('oss');
    expect(byName['storages.Azure'].kind).toBe('azure-blob');
  });

  it.each(CLOUD)('%s: a direct multipart upload of three parts completes and records the file', async (storage) => {
    const data = randomBytes(11 * MIB);
    const path = `${t.prefix}/${storage.slice(9)}/multi part.bin`;
    const seen: number[] = [];
    const handle = client.upload(new Blob([data], { type: 'application/x-test' }), {
      path,
      storage,
      strategy: 'multipart',
      partSize: 5 * MIB,
      expires: 3600,
      onProgress: (sent, total) => {
        expect(total).toBe(data.length);
        seen.push(sent);
      },
    });
    const record = await handle.promise;
    expect(await handle.strategy).toBe('multipart');
    expect(record).toMatchObject({ name: path, size: data.length, md5: md5(data), type: 'application/x-test' });
    expect(record.expires).toBeGreaterThan(Date.now());
    expect(seen[seen.length - 1]).toBe(data.length);
    expect(md5(await download(path, storage))).toBe(md5(data));
    if (storage !== 'storages.Azure' && storage !== 'storages.Oss') {
      expect(await s3.openUploads(storage === 'storages.S3' ? 'client-s3' : 'client-minio')).toEqual([]);
    }
  });

  it.each(['storages.S3', 'storages.Oss'])(
    '%s: with md5 the file is content-addressed and checked',
    async (storage) => {
      const data = randomBytes(6 * MIB);
      const hash = md5(data);
      const record = await client.upload(new Blob([data]), {
        path: `${t.prefix}/addressed.dat`,
        storage,
        strategy: 'multipart',
        partSize: 5 * MIB,
        md5: hash,
      }).promise;
      expect(record).toMatchObject({ name: `${hash}.dat`, md5: hash, size: data.length });
      const wrong = client.upload(new Blob([data]), {
        path: `${t.prefix}/wrong.dat`,
        storage,
        strategy: 'multipart',
        partSize: 5 * MIB,
        md5: md5(Buffer.from('other')),
      });
      await expect(wrong.promise).rejects.toMatchObject({ code: 'E_MD5_MISMATCH' });
    },
  );

  it('aborting a multipart upload drops its parts at the bucket', async () => {
    const data = randomBytes(11 * MIB);
    const controller = new AbortController();
    const handle = client.upload(new Blob([data]), {
      path: `${t.prefix}/aborted.bin`,
      storage: 'storages.S3',
      strategy: 'multipart',
      partSize: 5 * MIB,
      concurrency: 1,
      signal: controller.signal,
      onProgress: (sent) => {
        if (sent >= 5 * MIB) controller.abort();
      },
    });
    await expect(handle.promise).rejects.toMatchObject({ code: 'E_ABORTED' });
    await expect(client.meta(`${t.prefix}/aborted.bin`, 'storages.S3')).rejects.toMatchObject({ status: 404 });
    expect(await s3.openUploads('client-s3')).toEqual([]);
  });

  it.each(['storages.Default', ...CLOUD])('%s: one signed request (put), completed by the client', async (storage) => {
    const data = randomBytes(300_000);
    const path = `${t.prefix}/${storage.slice(9)}/single.png`;
    const handle = client.upload(new Blob([data], { type: 'image/png' }), { path, storage, strategy: 'auto' });
    expect(await handle.promise).toMatchObject({ name: path, md5: md5(data), size: data.length, type: 'image/png' });
    expect(await handle.strategy).toBe('put');
    expect(md5(await download(path, storage))).toBe(md5(data));
  });

  /** A direct upload straight to the bucket's signed form or SAS URL, never completed. */
  async function uploadWithoutComplete(storage: string, path: string, data: Buffer): Promise<void> {
    const signed = await t.http
      .post('/storage/sign')
      .set('Authorization', t.auth)
      .send({ file: path, contentType: 'text/plain', storage, expires: 600 })
      .expect(200);
    let body: Buffer | FormData = data;
    if (signed.body.method === 'POST') {
      body = new FormData();
      for (const [name, value] of Object.entries(signed.body.fields as Record<string, string>))
        body.append(name, value);
      body.append('file', new Blob([data], { type: 'text/plain' }), 'f.txt');
    }
    const put = await fetch(signed.body.url, { method: signed.body.method, headers: signed.body.headers, body });
    expect([200, 201, 204]).toContain(put.status);
  }

  it.each(CLOUD)('%s: a finished direct upload nobody completed is recorded on first access', async (storage) => {
    const data = randomBytes(1000);
    const path = `${t.prefix}/${storage.slice(9)}/forgotten.txt`;
    await uploadWithoutComplete(storage, path, data);
    const meta = await client.meta(path, storage);
    expect(meta).toMatchObject({ name: path, md5: md5(data), size: 1000, uploadUser: 'alice' });
    expect(meta.expires).toBeGreaterThan(Date.now());
    expect(md5(await download(path, storage))).toBe(md5(data));
    // The grant is spent: completing it again finds nothing.
    await t.http.post('/storage/sign/complete').set('Authorization', t.auth).send({ file: path, storage }).expect(404);
  });

  it('a finished direct upload nobody completed or read is recorded by the sweep', async () => {
    const data = randomBytes(2000);
    const path = `${t.prefix}/swept/forgotten.txt`;
    await uploadWithoutComplete('storages.S3', path, data);
    const swept = await t.http
      .post('/storage/admin/sweep?storage=storages.S3')
      .set('Authorization', t.auth)
      .expect(200);
    expect(swept.body.stagedRecorded).toBeGreaterThanOrEqual(1);
    const [row] = await t.service.list({ storage: 'storages.S3', prefix: `${t.prefix}/swept/` }).then((p) => p.items);
    expect(row).toMatchObject({ name: path, md5: md5(data), size: 2000 });
  });
});
