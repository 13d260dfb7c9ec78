import type { OssDriver } from '../../src/storage/drivers/oss/oss.driver';
import { StorageErrorCode } from '../../src/storage/errors/storage.error';
import { startOssServer, type OssServer } from '../oss-server/oss-server';
import { bufferStream, buildDriver, cleanUpOnError, readAll, sendSigned } from './contract-support';
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

  it('refuses a form signed with a wrong secret, for another key or type, past its expiry, or over maxSize', async () => {
    const wrong = await createOss({ endpoint: server.endpoint, accessKeySecret: 'not-the-secret' });
    const options = { contentType: 'text/plain', expiresIn: 60, maxSize: 5 };
    const forged = await wrong.signUpload('signed/forged.txt', options);
    const signed = await good.signUpload('signed/real.txt', options);
    const expired = await good.signUpload('signed/real.txt', { ...options, expiresIn: 1 });
    expect(signed).toMatchObject({ method: 'POST', url: `${server.endpoint}/${BUCKET}/` });
    const policy = JSON.parse(Buffer.from(signed.fields!.policy, 'base64').toString()) as { conditions: unknown[] };
    expect(policy.conditions).toEqual([
      { bucket: BUCKET },
      ['eq', '$key', 'signed/real.txt'],
      ['eq', '$content-type', 'text/plain'],
      ['content-length-range', 0, 5],
    ]);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expired.expiresAt - Date.now() + 50)));
    const cases: [string, Promise<Response>, number][] = [
      ['wrong secret', sendSigned(forged, 'x'), 403],
      ['other key', sendSigned(signed, 'x', { fields: { key: 'signed/other.txt' } }), 403],
      ['other type', sendSigned(signed, 'x', { contentType: 'text/html' }), 403],
      ['expired', sendSigned(expired, 'x'), 403],
      ['maxSize + 1', sendSigned(signed, '123456'), 400],
    ];
    for (const [label, sent, status] of cases) {
      const res = await sent;
      const body = await res.text();
      expect({ label, status: res.status }).toEqual({ label, status });
      if (status === 400) expect(body).toContain('<Code>EntityTooLarge</Code>');
    }
    for (const key of ['signed/forged.txt', 'signed/real.txt', 'signed/other.txt']) {
      expect(await good.exists(key)).toBe(false);
    }
    // maxSize bytes exactly are accepted.
    expect((await sendSigned(signed, '12345')).status).toBe(204);
    expect((await good.stat('signed/real.txt')).size).toBe(5);
    await good.delete('signed/real.txt');
  });
});
