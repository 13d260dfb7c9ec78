import type { OssDriver } from '../../src/storage/drivers/oss/oss.driver';
import { StorageErrorCode } from '../../src/storage/errors/storage.error';
import { startOssServer, type OssServer } from '../oss-server/oss-server';
import { bufferStream, buildDriver, cleanUpOnError, readAll } from './contract-support';
import { describeDriverContract } from './driver-contract';

const BUCKET = 'contract-oss';
const ACCESS_KEY_ID = 'LTAI-contract-id';
const ACCESS_KEY_SECRET = 'oss-contract-secret-9f3b';

function createOss(options: Record<string, unknown>): Promise<OssDriver> {
  return buildDriver('storages.Oss', {
    type: 'storages.OssType',
    bucket: BUCKET,
    accessKeyId: ACCESS_KEY_ID,
    accessKeySecret: ACCESS_KEY_SECRET,
    sldEnable: true, // path style: the test server has no per-bucket host names
    ...options,
  });
}

describeDriverContract('Aliyun OSS (test server)', async () => {
  const server = await startOssServer({ accessKeyId: ACCESS_KEY_ID, accessKeySecret: ACCESS_KEY_SECRET });
  const driver = await cleanUpOnError(server.close, () =>
    createOss({ endpoint: server.endpoint, createBucket: true, partSize: 5 * 1024 * 1024 }),
  );
  return {
    driver,
    secrets: [ACCESS_KEY_SECRET],
    enforcesSignedContentType: true,
    leftovers: () => server.leftovers(BUCKET),
    // localhost: with an IP endpoint ali-oss rewrites Host to <bucket>.<region host>
    unreachable: (port, timeoutMs) => createOss({ endpoint: `http://localhost:${port}`, timeoutMs }),
    teardown: () => server.close(),
  };
});

describe('Aliyun OSS signatures (test server)', () => {
  let server: OssServer;
  let good: OssDriver;

  beforeAll(async () => {
    server = await startOssServer({
      accessKeyId: ACCESS_KEY_ID,
      accessKeySecret: ACCESS_KEY_SECRET,
      buckets: [BUCKET],
    });
    good = await createOss({ endpoint: server.endpoint });
    await good.put('signed/existing.txt', bufferStream('kept'), { contentType: 'text/plain' });
  });
  afterAll(() => server?.close());

  it('refuses a client with a wrong secret: every call rejects with E_ACCESS_DENIED, nothing written', async () => {
    const wrong = await createOss({ endpoint: server.endpoint, accessKeySecret: 'not-the-secret' });
    const calls: [string, () => Promise<unknown>][] = [
      ['stat', () => wrong.stat('signed/existing.txt')],
      ['get', () => wrong.get('signed/existing.txt')],
      ['put', () => wrong.put('signed/intruder.txt', bufferStream('x'))],
      ['delete', () => wrong.delete('signed/existing.txt')],
      ['copy', () => wrong.copy('signed/existing.txt', 'signed/intruder.txt')],
      ['list', async () => wrong.list('signed/')[Symbol.asyncIterator]().next()],
    ];
    for (const [label, call] of calls) {
      const err = (await call().then(
        () => null,
        (e: unknown) => e,
      )) as { code?: string; message?: string } | null;
      expect({ label, code: err?.code }).toEqual({ label, code: StorageErrorCode.ACCESS_DENIED });
      expect(err?.message).not.toContain('not-the-secret');
    }
    expect(await good.exists('signed/intruder.txt')).toBe(false);
    expect((await readAll(await good.get('signed/existing.txt'))).toString()).toBe('kept');
  });

  it('refuses a URL signed with a wrong secret, an altered key or a past expiry', async () => {
    const wrong = await createOss({ endpoint: server.endpoint, accessKeySecret: 'not-the-secret' });
    const forged = await wrong.signUpload('signed/forged.txt', { contentType: 'text/plain', expiresIn: 60 });
    const signed = await good.signUpload('signed/real.txt', { contentType: 'text/plain', expiresIn: 60 });
    const expired = new URL(signed.url);
    expired.searchParams.set('Expires', String(Math.floor(Date.now() / 1000) - 10));
    const cases = [
      ['wrong secret', forged.url],
      ['other key', signed.url.replace('real.txt', 'other.txt')],
      ['expired', expired.toString()],
    ];
    for (const [label, url] of cases) {
      const res = await fetch(url, { method: 'PUT', headers: signed.headers, body: 'x' });
      expect({ label, status: res.status }).toEqual({ label, status: 403 });
    }
    for (const key of ['signed/forged.txt', 'signed/real.txt', 'signed/other.txt']) {
      expect(await good.exists(key)).toBe(false);
    }
  });
});
