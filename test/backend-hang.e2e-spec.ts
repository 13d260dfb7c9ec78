import type { AddressInfo } from 'node:net';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { keyState } from './harness/lifecycle';
import { openUpload } from './harness/open-upload';
import { s3Instance } from './harness/peers/instances';
import { startS3rver, type S3Peer } from './harness/peers/s3rver';
import { startSwitchProxy, type SwitchProxy } from './harness/peers/switch-proxy';
import { createTestApp, type TestApp } from './harness/test-app';
import { enc, eventually } from './harness/util';

/**
 * An S3 backend that hangs mid-upload (a proxy in front of s3rver stops forwarding): the PUT
 * fails within the instance's `timeoutMs` plus a margin, with 503 `E_BACKEND_UNAVAILABLE`, every
 * request and the SDK's retries counted against that one budget; the multipart upload whose
 * abort could not get through is found and aborted by the reconciler once the peer is back, so
 * nothing is left in the bucket.
 */
describe('an S3 backend that hangs during an upload', () => {
  const TIMEOUT_MS = 1500;
  /** What the service may add to one timeout: the answer, the record's clean-up, CI noise. */
  const MARGIN_MS = 1500;
  const BUCKET = 'hang-bucket';
  const STORAGE = 'storages.Hangs';
  let s3: S3Peer;
  let proxy: SwitchProxy;
  let t: TestApp;
  let direct: S3Client;

  beforeAll(async () => {
    s3 = await startS3rver([BUCKET]);
    proxy = await startSwitchProxy({ port: s3.port });
    direct = new S3Client({
      region: 'us-east-1',
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: s3.credentials,
    });
    t = await createTestApp({
      config: {
        storages: {
          [STORAGE]: s3Instance({ endpoint: proxy.endpoint, credentials: s3.credentials }, BUCKET, {
            timeoutMs: TIMEOUT_MS,
            partSize: 5 * 1024 * 1024,
          }),
        },
      },
      env: { ORPHAN_GRACE_SECONDS: '0' },
    });
  }, 60_000);
  afterEach(() => proxy.up());
  afterAll(async () => {
    await t?.close();
    direct?.destroy();
    await proxy?.close();
    await s3?.close();
  });

  const base = () => `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
  const objects = async () =>
    ((await direct.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: t.prefix }))).Contents ?? []).map(
      (o) => o.Key,
    );

  it('a small PUT to a hung backend: 503 within the timeout, nothing stored', async () => {
    const k = `${t.prefix}/small.txt`;
    proxy.hang();
    const started = Date.now();
    const res = await t.http
      .put(`/storage/files/${enc(k)}?storage=${STORAGE}`)
      .set('Authorization', t.auth)
      .send('x');
    const ms = Date.now() - started;
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ code: 'E_BACKEND_UNAVAILABLE' });
    expect(ms).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
    proxy.up();
    expect(await objects()).toEqual([]);
    expect(await keyState(t, k, STORAGE)).toMatchObject({ records: [], pins: 0 });
  });

  it('a multipart PUT cut by a hang: 503 within the timeout; the reconciler aborts the open upload', async () => {
    const k = `${t.prefix}/big.bin`;
    const upload = openUpload(base(), 'PUT', `/storage/files/${enc(k)}?storage=${STORAGE}`, {
      Authorization: t.auth,
      'Content-Type': 'application/octet-stream',
    });
    // Two parts' worth: the multipart upload begins and its first part goes through.
    for (let i = 0; i < 11; i++) await upload.write(Buffer.alloc(1024 * 1024, i));
    expect(await eventually(async () => (await s3.openUploads(BUCKET)).length === 1, 10_000)).toBe(true);
    proxy.hang();
    const started = Date.now();
    const answer = await upload.finish(Buffer.alloc(1024 * 1024, 99));
    const ms = Date.now() - started;
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body)).toMatchObject({ code: 'E_BACKEND_UNAVAILABLE' });
    expect(ms).toBeLessThan(TIMEOUT_MS + MARGIN_MS);

    // The abort goes on in the background within its own timeout; the backend hangs past it.
    await new Promise((resolve) => setTimeout(resolve, TIMEOUT_MS + 500));
    proxy.up();
    // The abort could not get through while the backend hung: the upload is still open.
    expect(await s3.openUploads(BUCKET)).toEqual([expect.stringContaining(t.prefix)]);
    const report = (
      await t.http.post(`/storage/admin/reconcile?storage=${STORAGE}`).set('Authorization', t.auth).expect(200)
    ).body;
    expect(report.uploadsAborted).toBe(1);
    expect(await s3.openUploads(BUCKET)).toEqual([]);
    expect(await objects()).toEqual([]);
    expect(await keyState(t, k, STORAGE)).toMatchObject({ records: [], pins: 0 });
  }, 30_000);
});
