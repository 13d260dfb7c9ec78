import { randomUUID } from 'node:crypto';
import type { SignedUpload, StorageDriver } from '../../src/storage/drivers/storage-driver';
import { AZURITE_ACCOUNT, azuriteConnectionString, startAzurite } from '../harness/peers/azurite';
import { freePort } from '../harness/peers/ports';
import { startS3rver } from '../harness/peers/s3rver';
import { startOssServer } from '../oss-server/oss-server';
import { buildDriver, readAll, sendSigned } from './contract-support';

/**
 * `publicEndpoint`: the service reaches each peer as http://127.0.0.1:PORT and clients as
 * http://localhost:PORT (a peer answers on both, as MinIO answers to `minio:9000` inside
 * docker-compose and to `localhost:9000` on the host). A signed upload URL must name the client's
 * address and be accepted there. Each peer checks signatures: s3rver through the harness's SigV4
 * check (s3rver alone accepts any V4 signature), Azurite its SAS, the OSS test server V1.
 */
interface Backend {
  name: string;
  /** A peer on a free port; `driver(publicEndpoint)` builds an instance on http://127.0.0.1:PORT. */
  start(): Promise<{
    port: number;
    driver(publicEndpoint?: (port: number) => string): Promise<StorageDriver>;
    close(): Promise<void>;
  }>;
  /** The client-side address of the peer on `port`. */
  publicEndpoint(port: number): string;
  /** The signature binds the Host header (SigV4): a URL whose host is merely rewritten is refused. */
  signsHost: boolean;
}

const ACCESS = { accessKeyId: 'LTAI-public-endpoint', accessKeySecret: 'oss-public-endpoint-secret' };

const BACKENDS: Backend[] = [
  {
    name: 'S3 (s3rver)',
    signsHost: true,
    publicEndpoint: (port) => `http://localhost:${port}`,
    async start() {
      const peer = await startS3rver();
      return {
        port: peer.port,
        driver: (publicEndpoint) =>
          buildDriver('storages.S3', {
            type: 'storages.S3Type',
            region: 'us-east-1',
            forcePathStyle: true,
            endpoint: `http://127.0.0.1:${peer.port}`,
            credentials: peer.credentials,
            bucket: 'public-endpoint-s3',
            createBucket: true,
            publicEndpoint: publicEndpoint?.(peer.port),
          }),
        close: peer.close,
      };
    },
  },
  {
    // No region configured: the presigning client gets the bucket's region from the service's address.
    name: 'MinIO client (s3rver)',
    signsHost: true,
    publicEndpoint: (port) => `http://localhost:${port}`,
    async start() {
      const peer = await startS3rver();
      return {
        port: peer.port,
        driver: (publicEndpoint) =>
          buildDriver('storages.Minio', {
            type: 'storages.MinioType',
            endPoint: '127.0.0.1',
            port: peer.port,
            useSSL: false,
            accessKey: peer.credentials.accessKeyId,
            secretKey: peer.credentials.secretAccessKey,
            bucket: 'public-endpoint-minio',
            createBucket: true,
            publicEndpoint: publicEndpoint?.(peer.port),
          }),
        close: peer.close,
      };
    },
  },
  {
    name: 'Azure Blob (Azurite)',
    signsHost: false,
    publicEndpoint: (port) => `http://localhost:${port}/${AZURITE_ACCOUNT}`,
    async start() {
      const peer = await startAzurite();
      return {
        port: peer.port,
        driver: (publicEndpoint) =>
          buildDriver('storages.Azure', {
            type: 'storages.AzureBlobType',
            connectionString: azuriteConnectionString(peer.port),
            container: 'public-endpoint',
            createBucket: true,
            publicEndpoint: publicEndpoint?.(peer.port),
          }),
        close: peer.close,
      };
    },
  },
  {
    // With an IP endpoint ali-oss cannot sign at all; a named publicEndpoint makes that possible.
    name: 'Aliyun OSS (test server)',
    signsHost: false,
    publicEndpoint: (port) => `http://localhost:${port}`,
    async start() {
      const server = await startOssServer({ ...ACCESS, buckets: ['public-endpoint-oss'] });
      return {
        port: server.port,
        driver: (publicEndpoint) =>
          buildDriver('storages.Oss', {
            type: 'storages.OssType',
            ...ACCESS,
            bucket: 'public-endpoint-oss',
            region: 'oss-cn-beijing',
            endpoint: `http://127.0.0.1:${server.port}`,
            sldEnable: true,
            publicEndpoint: publicEndpoint?.(server.port),
          }),
        close: server.close,
      };
    },
  },
];

/** The status of sending `body` as `signed` says, to `url`; 2xx statuses read as 'ok'. */
async function put(signed: SignedUpload, body: string, url = signed.url): Promise<number | 'ok'> {
  const res = await sendSigned(signed, body, { url });
  await res.arrayBuffer();
  return res.ok ? 'ok' : res.status;
}

/** `url` with its origin replaced: what a proxy or a naive "fix" would do to a signed URL. */
function withOrigin(url: string, origin: string): string {
  const parsed = new URL(url);
  return origin + url.slice(parsed.origin.length);
}

describe.each(BACKENDS)('$name with publicEndpoint', (backend) => {
  let peer: Awaited<ReturnType<Backend['start']>>;
  let driver: StorageDriver;
  const prefix = `public-endpoint-${randomUUID()}/`;

  beforeAll(async () => {
    peer = await backend.start();
    driver = await peer.driver(backend.publicEndpoint);
  }, 60_000);

  afterAll(async () => {
    await driver?.close?.();
    await peer?.close();
  }, 60_000);

  it('signs uploads for the public address: the URL names localhost:PORT, a PUT there stores the object', async () => {
    const key = `${prefix}signed/ü pload.txt`;
    const signed = await driver.signUpload!(key, { contentType: 'text/plain', expiresIn: 300 });
    const url = new URL(signed.url);
    expect(url.host).toBe(`localhost:${peer.port}`);
    expect(signed.url.startsWith(`${backend.publicEndpoint(peer.port)}/`)).toBe(true);
    expect(signed.url).not.toContain('127.0.0.1');

    expect(await put(signed, 'through the public address')).toBe('ok');
    expect((await readAll(await driver.get(key))).toString()).toBe('through the public address');
    expect((await driver.stat(key)).contentType).toBe('text/plain');
    await driver.delete(key);
  });

  it('signs downloads for the public address: the URL names localhost:PORT, a GET there reads the object', async () => {
    const key = `${prefix}signed-get/ü file.txt`;
    await put(await driver.signUpload!(key, { contentType: 'text/plain', expiresIn: 300 }), 'read me there');
    const signed = await driver.signDownload!(key, { expiresIn: 300 });
    expect(new URL(signed.url).host).toBe(`localhost:${peer.port}`);
    expect(signed.url.startsWith(`${backend.publicEndpoint(peer.port)}/`)).toBe(true);
    const res = await fetch(signed.url);
    expect([res.status, await res.text()]).toEqual([200, 'read me there']);
    await driver.delete(key);
  });

  it('signs without contacting the public address (a closed port there)', async () => {
    const closed = await freePort();
    const offline = await peer.driver(() => backend.publicEndpoint(closed));
    try {
      const signed = await offline.signUpload!(`${prefix}offline.txt`, { contentType: 'text/plain', expiresIn: 60 });
      expect(new URL(signed.url).host).toBe(`localhost:${closed}`);
    } finally {
      await offline.close?.();
    }
  });

  if (backend.signsHost) {
    it('refuses a URL signed for the service address whose host was rewritten (SigV4 signs Host)', async () => {
      const plain = await peer.driver();
      try {
        const key = `${prefix}rewritten.txt`;
        const signed = await plain.signUpload!(key, { contentType: 'text/plain', expiresIn: 300 });
        if (signed.method === 'POST') {
          // A POST policy binds bucket, key, type and size, not the host: a changed key is refused.
          const res = await sendSigned(signed, 'x', { fields: { key: `${prefix}other.txt` } });
          await res.arrayBuffer();
          expect(res.status).toBe(403);
          expect(await put(signed, 'as signed')).toBe('ok');
          await plain.delete(key);
          return;
        }
        expect(new URL(signed.url).host).toBe(`127.0.0.1:${peer.port}`);
        const rewritten = withOrigin(signed.url, `http://localhost:${peer.port}`);
        expect(await put(signed, 'rewritten', rewritten)).toBe(403);
        expect(await plain.exists(key)).toBe(false);
        // The same URL where it was signed for is accepted: the host alone made the difference.
        expect(await put(signed, 'as signed')).toBe('ok');
        expect((await readAll(await plain.get(key))).toString()).toBe('as signed');
        await plain.delete(key);
      } finally {
        await plain.close?.();
      }
    });
  } else {
    it('signs the path but not the host: the same URL at 127.0.0.1 is accepted, for another key refused', async () => {
      const key = `${prefix}host-free.txt`;
      const signed = await driver.signUpload!(key, { contentType: 'text/plain', expiresIn: 300 });
      if (signed.method === 'POST') {
        // A POST policy binds the key in a form field, not in the URL.
        const res = await sendSigned(signed, 'other key', { fields: { key: `${prefix}other-key.txt` } });
        await res.arrayBuffer();
        expect(res.status).toBe(403);
      } else {
        expect(await put(signed, 'other key', signed.url.replace('host-free.txt', 'other-key.txt'))).toBe(403);
      }
      expect(await driver.exists(`${prefix}other-key.txt`)).toBe(false);
      expect(await put(signed, 'at 127.0.0.1', withOrigin(signed.url, `http://127.0.0.1:${peer.port}`))).toBe('ok');
      expect((await readAll(await driver.get(key))).toString()).toBe('at 127.0.0.1');
      await driver.delete(key);
    });
  }
});
