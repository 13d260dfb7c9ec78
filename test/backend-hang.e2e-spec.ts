import { lookup } from 'node:dns/promises';
import type { AddressInfo } from 'node:net';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { ContainerClient } from '@azure/storage-blob';
import OSS from 'ali-oss';
import { keyState } from './harness/lifecycle';
import { openUpload } from './harness/open-upload';
import { azuriteConnectionString, startAzurite, type AzurePeer } from './harness/peers/azurite';
import { minioInstance, s3Instance } from './harness/peers/instances';
import { startS3rver, type S3Peer } from './harness/peers/s3rver';
import { startSwitchProxy, type SwitchProxy } from './harness/peers/switch-proxy';
import { createTestApp, type TestApp } from './harness/test-app';
import { enc, eventually } from './harness/util';
import { startOssServer, type OssServer } from './oss-server/oss-server';

const MIB = 1024 * 1024;
const TIMEOUT_MS = 1500;
/** What the service may add to one timeout: the answer, the record's clean-up, CI noise. */
const MARGIN_MS = 1500;
const OSS_ID = 'LTAI-hang-id';
const OSS_SECRET = 'oss-hang-secret';

/** One backend behind a proxy that can hang, and how to see what it holds without the proxy. */
interface HungBackend {
  storage: string;
  proxy: SwitchProxy;
  /** Keys stored under `prefix`. */
  objects(prefix: string): Promise<string[]>;
  /** Keys of multipart uploads left open; absent where the backend has none (Azure). */
  openUploads?(): Promise<string[]>;
}

/**
 * Every cloud backend that hangs mid-upload (a proxy in front of its real peer stops forwarding):
 * the PUT fails within the instance's `timeoutMs` plus a margin, with 503
 * `E_BACKEND_UNAVAILABLE`, every request and the SDK's retries counted against that one budget;
 * a multipart upload whose abort could not get through is found and aborted by the reconciler
 * once the peer is back, so nothing is left in the bucket. Azure's staged blocks are never
 * committed, so nothing is visible there.
 */
describe('a cloud backend that hangs during an upload', () => {
  const backends = new Map<string, HungBackend>();
  const closers: Array<() => unknown> = [];
  let t: TestApp;

  beforeAll(async () => {
    const s3 = await startS3rver(['hang-s3', 'hang-minio']);
    closers.push(() => s3.close());
    const oss = await startOssServer({ accessKeyId: OSS_ID, accessKeySecret: OSS_SECRET, buckets: ['hang-oss'] });
    closers.push(() => oss.close());
    const azure = await startAzurite();
    closers.push(() => azure.close());
    const common = { timeoutMs: TIMEOUT_MS, partSize: 5 * MIB };
    const storages: Record<string, Record<string, unknown>> = {};
    const add = async (target: { host?: string; port: number }, listenHost?: string) => {
      const proxy = await startSwitchProxy(target, listenHost);
      closers.push(() => proxy.close());
      return proxy;
    };

    const s3Proxy = await add(s3);
    storages['storages.S3'] = s3Instance(
      { endpoint: s3Proxy.endpoint, credentials: s3.credentials },
      'hang-s3',
      common,
    );
    backends.set('S3', s3Backend('storages.S3', s3Proxy, s3, 'hang-s3', closers));

    const minioProxy = await add(s3);
    storages['storages.Minio'] = { ...minioInstance({ ...s3, port: minioProxy.port }, 'hang-minio'), ...common };
    backends.set('MinIO', s3Backend('storages.Minio', minioProxy, s3, 'hang-minio', closers));

    // ali-oss signs for host names only: the proxy listens where `localhost` leads, as the server does.
    const { address } = await lookup('localhost');
    const ossProxy = await add({ host: address, port: oss.port }, address);
    storages['storages.Oss'] = {
      type: 'storages.OssType',
      endpoint: `http://localhost:${ossProxy.port}`,
      sldEnable: true,
      accessKeyId: OSS_ID,
      accessKeySecret: OSS_SECRET,
      bucket: 'hang-oss',
      ...common,
    };
    backends.set('OSS', ossBackend('storages.Oss', ossProxy, oss));

    const azureProxy = await add(azure);
    storages['storages.Azure'] = {
      type: 'storages.AzureBlobType',
      connectionString: azuriteConnectionString(azureProxy.port),
      container: 'hang-azure',
      createBucket: true,
      timeoutMs: TIMEOUT_MS,
      blockSize: MIB,
      concurrency: 2,
    };
    backends.set('Azure', azureBackend('storages.Azure', azureProxy, azure));

    // Twins on the peers themselves, with the default timeout: for uploads that must go through
    // on a busy machine (`{storage}Live`).
    const direct = { partSize: 5 * MIB };
    storages['storages.S3Live'] = s3Instance({ endpoint: s3.endpoint, credentials: s3.credentials }, 'hang-s3', direct);
    storages['storages.MinioLive'] = { ...minioInstance(s3, 'hang-minio'), ...direct };
    storages['storages.OssLive'] = { ...storages['storages.Oss'], endpoint: oss.endpoint, timeoutMs: undefined };

    t = await createTestApp({ config: { storages }, env: { ORPHAN_GRACE_SECONDS: '0' } });
  }, 90_000);
  afterEach(() => backends.forEach((b) => b.proxy.up()));
  afterAll(async () => {
    await t?.close();
    for (const close of closers.reverse()) await close();
  });

  const base = () => `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
  const NAMES = ['S3', 'MinIO', 'OSS', 'Azure'];

  it.each(NAMES)('%s: a small PUT to a hung backend is a 503 within the timeout, nothing stored', async (name) => {
    const b = backends.get(name)!;
    const k = `${t.prefix}/${name}/small.txt`;
    b.proxy.hang();
    const started = Date.now();
    const res = await t.http
      .put(`/storage/files/${enc(k)}?storage=${b.storage}`)
      .set('Authorization', t.auth)
      .send('x');
    const ms = Date.now() - started;
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ code: 'E_BACKEND_UNAVAILABLE' });
    expect(ms).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
    b.proxy.up();
    expect(await b.objects(`${t.prefix}/${name}/`)).toEqual([]);
    expect(await keyState(t, k, b.storage)).toMatchObject({ records: [], pins: 0 });
  });

  it.each(NAMES)(
    '%s: a multipart PUT cut by a hang is a 503 within the timeout; the reconciler aborts what is left open',
    async (name) => {
      const b = backends.get(name)!;
      const k = `${t.prefix}/${name}/big.bin`;
      const upload = openUpload(base(), 'PUT', `/storage/files/${enc(k)}?storage=${b.storage}`, {
        Authorization: t.auth,
        'Content-Type': 'application/octet-stream',
      });
      // Two parts' worth: the multipart upload begins and its first part goes through.
      for (let i = 0; i < 11; i++) await upload.write(Buffer.alloc(MIB, i));
      if (b.openUploads) expect(await eventually(async () => (await b.openUploads!()).length === 1, 10_000)).toBe(true);
      b.proxy.hang();
      const started = Date.now();
      const answer = await upload.finish(Buffer.alloc(MIB, 99));
      const ms = Date.now() - started;
      expect([answer.status, answer.body]).toEqual([503, expect.any(String)]);
      expect(JSON.parse(answer.body)).toMatchObject({ code: 'E_BACKEND_UNAVAILABLE' });
      expect(ms).toBeLessThan(TIMEOUT_MS + MARGIN_MS);

      // The abort goes on in the background within its own timeout; the backend hangs past it.
      await new Promise((resolve) => setTimeout(resolve, TIMEOUT_MS + 500));
      b.proxy.up();
      // The abort could not get through while the backend hung: the upload is still open.
      if (b.openUploads) expect(await b.openUploads()).toEqual([expect.stringContaining(`${name}/big`)]);
      const report = (
        await t.http.post(`/storage/admin/reconcile?storage=${b.storage}`).set('Authorization', t.auth).expect(200)
      ).body;
      expect(report.uploadsAborted).toBe(b.openUploads ? 1 : 0);
      if (b.openUploads) expect(await b.openUploads()).toEqual([]);
      expect(await b.objects(`${t.prefix}/${name}/`)).toEqual([]);
      expect(await keyState(t, k, b.storage)).toMatchObject({ records: [], pins: 0 });
    },
    30_000,
  );
  it.each(['S3', 'MinIO', 'OSS'])(
    '%s: the reconciler, with a grace of 0, leaves the multipart upload of an upload in flight',
    async (name) => {
      const b = backends.get(name)!;
      const storage = `${b.storage}Live`;
      const k = `${t.prefix}/${name}/slow.bin`;
      const upload = openUpload(base(), 'PUT', `/storage/files/${enc(k)}?storage=${storage}`, {
        Authorization: t.auth,
        'Content-Type': 'application/octet-stream',
      });
      for (let i = 0; i < 11; i++) await upload.write(Buffer.alloc(MIB, i));
      expect(await eventually(async () => (await b.openUploads!()).length === 1, 10_000)).toBe(true);
      // Older than the grace (0) and than the second the reconciler always spares.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const report = (
        await t.http.post(`/storage/admin/reconcile?storage=${storage}`).set('Authorization', t.auth).expect(200)
      ).body;
      expect(report.uploadsAborted).toBe(0);
      expect(await b.openUploads!()).toHaveLength(1);
      const answer = await upload.finish(Buffer.alloc(MIB, 99));
      expect(answer.status).toBe(201);
      expect(JSON.parse(answer.body)).toMatchObject({ size: 12 * MIB });
      expect(await b.openUploads!()).toEqual([]);
    },
    30_000,
  );
});

function s3Backend(
  storage: string,
  proxy: SwitchProxy,
  s3: S3Peer,
  bucket: string,
  closers: Array<() => unknown>,
): HungBackend {
  const direct = new S3Client({
    region: 'us-east-1',
    endpoint: s3.endpoint,
    forcePathStyle: true,
    credentials: s3.credentials,
  });
  closers.push(() => direct.destroy());
  return {
    storage,
    proxy,
    objects: async (prefix) =>
      ((await direct.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))).Contents ?? []).map(
        (o) => o.Key ?? '',
      ),
    openUploads: () => s3.openUploads(bucket),
  };
}

function ossBackend(storage: string, proxy: SwitchProxy, oss: OssServer): HungBackend {
  const direct = new OSS({
    endpoint: oss.endpoint,
    accessKeyId: OSS_ID,
    accessKeySecret: OSS_SECRET,
    bucket: 'hang-oss',
    ...({ sldEnable: true } as object),
  });
  return {
    storage,
    proxy,
    objects: async (prefix) => ((await direct.list({ prefix, 'max-keys': 1000 }, {})).objects ?? []).map((o) => o.name),
    openUploads: () => oss.openUploads('hang-oss'),
  };
}

function azureBackend(storage: string, proxy: SwitchProxy, azure: AzurePeer): HungBackend {
  const direct = new ContainerClient(azure.connectionString, 'hang-azure');
  return {
    storage,
    proxy,
    objects: async (prefix) => {
      const keys: string[] = [];
      for await (const blob of direct.listBlobsFlat({ prefix })) keys.push(blob.name);
      return keys;
    },
  };
}
