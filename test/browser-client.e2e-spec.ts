import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createStorageClient, LARGE_FILE, type StorageClient } from '../src/client';
import { startCloudPeers, type CloudPeers } from './harness/peers/cloud-peers';
import { s3Instance } from './harness/peers/instances';
import { startSwitchProxy, type SwitchProxy } from './harness/peers/switch-proxy';
import { binaryParser } from './harness/images';
import { createTestApp, TOKEN, type TestApp } from './harness/test-app';
import { md5 } from './harness/util';

const MIB = 1024 * 1024;
const CLOUD = ['storages.S3', 'storages.Minio', 'storages.Oss', 'storages.Azure'];

/**
 * The browser client (`src/client`) in Node 20 (fetch, Blob and FormData as in a browser; no
 * XMLHttpRequest, so progress comes per request) against the real app and each backend's peer:
 * direct multipart straight to the bucket, one signed request, and direct uploads that record
 * themselves when the client never completes them.
 */
describe('browser client: direct uploads', () => {
  let peers: CloudPeers;
  let proxy: SwitchProxy;
  let t: TestApp;
  let client: StorageClient;
  let baseUrl: string;
  /** Part PUTs sent by the client, by part number (every attempt counts). */
  const partRequests = new Map<string, number>();

  beforeAll(async () => {
    peers = await startCloudPeers('client');
    proxy = await startSwitchProxy({ port: peers.s3.port });
    // storages.S3Cut: the same s3rver through a proxy the test can cut, for the client as for the service.
    const cut = s3Instance({ endpoint: proxy.endpoint, credentials: peers.s3.credentials }, 'client-s3');
    t = await createTestApp({ config: { storages: { ...peers.storages, 'storages.S3Cut': cut } } });
    const { port } = t.app.getHttpServer().address() as AddressInfo;
    const origin = `http://127.0.0.1:${port}`;
    // Local signed URLs name the configured public address; in the test that is the app's port.
    const rewrite: typeof fetch = (input, init) => {
      const url = typeof input === 'string' ? input.replace('http://storage.test', origin) : input;
      const part =
        typeof url === 'string' && init?.method === 'PUT' ? /[?&]partNumber=(\d+)/.exec(url)?.[1] : undefined;
      if (part) partRequests.set(part, (partRequests.get(part) ?? 0) + 1);
      return fetch(url, init);
    };
    baseUrl = `${origin}/storage`;
    client = createStorageClient({ baseUrl, token: TOKEN, fetch: rewrite });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await proxy?.close();
    await peers?.close();
  });
  beforeEach(() => partRequests.clear());

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

  it('auto in Node: a large file to local disk goes by a signed PUT (tus needs a browser’s Blob reading)', async () => {
    const data = randomBytes(LARGE_FILE + 1024);
    const path = `${t.prefix}/large/local.bin`;
    const handle = client.upload(new Blob([data]), { path, storage: 'storages.Default' });
    expect(await handle.strategy).toBe('put');
    expect(await handle.promise).toMatchObject({ name: path, size: data.length, md5: md5(data) });
  });

  it('an unknown instance rejects the upload and its strategy, naming the instance', async () => {
    const handle = client.upload(new Blob(['x']), { path: `${t.prefix}/x.txt`, storage: 'storages.Nope' });
    await expect(handle.promise).rejects.toMatchObject({
      code: 'E_UNKNOWN_STORAGE',
      message: expect.stringContaining('Nope'),
    });
    await expect(handle.strategy).rejects.toMatchObject({ code: 'E_UNKNOWN_STORAGE' });
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
      expect(await peers.s3.openUploads(storage === 'storages.S3' ? 'client-s3' : 'client-minio')).toEqual([]);
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
    expect(await peers.s3.openUploads('client-s3')).toEqual([]);
  });

  it('a part cut off by the network is sent again after a back-off; acknowledged parts are not', async () => {
    const data = randomBytes(15 * MIB);
    const path = `${t.prefix}/cut/resumed.bin`;
    let cut = false;
    const handle = client.upload(new Blob([data]), {
      path,
      storage: 'storages.S3Cut',
      strategy: 'multipart',
      partSize: 5 * MIB,
      concurrency: 1,
      onProgress: (sent) => {
        if (sent < 5 * MIB || cut) return;
        cut = true;
        proxy.down();
        setTimeout(() => proxy.up(), 400);
      },
    });
    const record = await handle.promise;
    expect(record).toMatchObject({ name: path, size: data.length, md5: md5(data) });
    expect(partRequests.get('1')).toBe(1);
    expect(partRequests.get('2')).toBeGreaterThan(1);
    expect(partRequests.get('3')).toBe(1);
  });

  it('pause holds back the next part until resume', async () => {
    const data = randomBytes(11 * MIB);
    let pausedAt = 0;
    const handle: ReturnType<StorageClient['upload']> = client.upload(new Blob([data]), {
      path: `${t.prefix}/paused.bin`,
      storage: 'storages.S3',
      strategy: 'multipart',
      partSize: 5 * MIB,
      concurrency: 1,
      onProgress: (sent) => {
        if (sent >= 5 * MIB && !pausedAt) {
          pausedAt = sent;
          handle.pause();
        }
      },
    });
    // Wait for the pause (the start and the first part take their time on a busy machine), then
    // give a next part the time it would need to be sent: none may be.
    const deadline = Date.now() + 30_000;
    while (!pausedAt && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(pausedAt).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect([...partRequests.keys()]).toEqual(['1']);
    handle.resume();
    expect(await handle.promise).toMatchObject({ size: data.length, md5: md5(data) });
    expect([...partRequests.values()]).toEqual([1, 1, 1]);
  });

  it.each(['storages.Default', ...CLOUD])('%s: one signed request (put), completed by the client', async (storage) => {
    const data = randomBytes(300_000);
    const path = `${t.prefix}/${storage.slice(9)}/single.png`;
    const handle = client.upload(new Blob([data], { type: 'image/png' }), { path, storage, strategy: 'auto' });
    expect(await handle.promise).toMatchObject({ name: path, md5: md5(data), size: data.length, type: 'image/png' });
    expect(await handle.strategy).toBe('put');
    expect(md5(await download(path, storage))).toBe(md5(data));
  });

  it.each(['storages.Default', 'storages.S3'])(
    '%s: list, meta, urls and remove as a page uses them',
    async (storage) => {
      const data = randomBytes(5000);
      const path = `${t.prefix}/page/${storage.slice(9)}/ü file.txt`;
      await client.upload(new Blob([data], { type: 'text/plain' }), { path, storage }).promise;
      const page = await client.list({ prefix: `${t.prefix}/page/${storage.slice(9)}/`, storage });
      expect(page.items.map((r) => r.name)).toEqual([path]);
      expect(await client.meta(path, storage)).toMatchObject({ name: path, size: 5000 });

      const urls = await client.urls(path, { storage, expiresIn: 60 });
      const local = (url: string) => url.replace('http://storage.test', new URL(baseUrl).origin);
      const got = await fetch(local(urls.download));
      expect(md5(Buffer.from(await got.arrayBuffer()))).toBe(md5(data));
      // Preview works without a token: public instance, or the signed query on a private one.
      const preview = await fetch(local(urls.preview));
      expect(preview.status).toBe(200);
      expect(urls.thumbnail(64, 64)).toContain('width=64');
      expect(urls.expiresAt).toBeGreaterThan(Date.now());

      await client.remove(path, storage);
      await expect(client.meta(path, storage)).rejects.toMatchObject({ code: 'E_NOT_FOUND', status: 404 });
    },
  );

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
