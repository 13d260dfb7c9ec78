import { randomBytes } from 'node:crypto';
import { startS3rver, type S3Peer } from './harness/peers/s3rver';
import { s3Instance } from './harness/peers/instances';
import { startOssServer, type OssServer } from './oss-server/oss-server';
import { createTestApp, OTHER_TOKEN, type TestApp } from './harness/test-app';

const MIB = 1024 * 1024;

/**
 * The direct multipart routes (`sign/multipart`, `/parts`, `/complete`, `/abort`) refuse what the
 * normal upload rules refuse, before anything reaches the bucket: scopes and key prefixes, the
 * size limit, someone else's upload, malformed part lists, backends without multipart.
 */
describe('direct multipart routes: refusals', () => {
  let s3: S3Peer;
  let oss: OssServer;
  let t: TestApp;
  const S3 = 'storages.S3';
  // The OSS test server checks part ETags on completion as OSS does (s3rver does not).
  const OSS = 'storages.Oss';
  const as = (token: string) => `Bearer ${token}`;

  beforeAll(async () => {
    [s3, oss] = await Promise.all([
      startS3rver(['refusals']),
      startOssServer({ accessKeyId: 'LTAI-refusals', accessKeySecret: 'refusals-secret', buckets: ['refusals'] }),
    ]);
    t = await createTestApp({
      env: { MAX_UPLOAD_SIZE: String(20 * MIB) },
      config: {
        storages: {
          [S3]: s3Instance(s3, 'refusals'),
          [OSS]: {
            type: 'storages.OssType',
            endpoint: oss.endpoint,
            sldEnable: true,
            accessKeyId: 'LTAI-refusals',
            accessKeySecret: 'refusals-secret',
            bucket: 'refusals',
          },
        },
        apiTokens: {
          alice: 'test-token-alice',
          bob: OTHER_TOKEN,
          reader: { token: 'tok-reader', scopes: ['read'] },
          scoped: { token: 'tok-scoped', scopes: ['read', 'write'], prefix: 'mine/' },
        },
      },
    });
  });
  afterAll(async () => {
    await t?.close();
    await Promise.all([s3?.close(), oss?.close()]);
  });

  const start = (body: Record<string, unknown>, auth = t.auth) =>
    t.http
      .post('/storage/sign/multipart')
      .set('Authorization', auth)
      .send({ contentType: 'application/octet-stream', storage: S3, ...body });

  it('refuses a token without write, a key outside the token’s prefix, and a file over the size limit', async () => {
    await start({ file: `${t.prefix}/a.bin` }, as('tok-reader')).expect(403);
    const outside = await start({ file: `${t.prefix}/a.bin` }, as('tok-scoped')).expect(403);
    expect(outside.body.code).toBe('E_FORBIDDEN');
    await start({ file: 'mine/a.bin' }, as('tok-scoped')).expect(201);
    const big = await start({ file: `${t.prefix}/big.bin`, size: 21 * MIB }).expect(413);
    expect(big.body.code).toBe('E_TOO_LARGE');
    // Only the allowed one began an upload at the bucket.
    expect(await s3.openUploads('refusals')).toHaveLength(1);
  });

  it('says local disk has no direct multipart (use tus or a signed PUT)', async () => {
    const res = await start({ file: `${t.prefix}/local.bin`, storage: 'storages.Default' }).expect(501);
    expect(res.body.message).toContain('tus');
  });

  it('suggests a part size that fits the file in 10,000 parts, within the backend’s bounds', async () => {
    const res = await start({ file: `${t.prefix}/sized.bin`, size: 10 * MIB, partSize: 1024 }).expect(201);
    expect(res.body).toMatchObject({ partSize: 5 * MIB, limits: { minPartSize: 5 * MIB, maxParts: 10_000 } });
  });

  it('refuses another user’s upload, bad part lists, and a completion with a wrong ETag', async () => {
    const file = `${t.prefix}/owned.bin`;
    const { body: started } = await start({ file, storage: OSS }).expect(201);
    const ref = { file, storage: OSS, id: started.id, uploadId: started.uploadId };
    const parts = (body: object, auth = t.auth) =>
      t.http.post('/storage/sign/multipart/parts').set('Authorization', auth).send(body);

    const theirs = await parts({ ...ref, parts: [1] }, as(OTHER_TOKEN)).expect(403);
    expect(theirs.body.code).toBe('E_SIGNATURE_INVALID');
    await parts({ ...ref, parts: [0] }).expect(400);
    await parts({ ...ref, parts: Array.from({ length: 101 }, (_, i) => i + 1) }).expect(400);
    await parts({ ...ref, file: `${t.prefix}/other.bin`, parts: [1] }).expect(403);

    const { body: signed } = await parts({ ...ref, parts: [1] }).expect(200);
    const data = randomBytes(1000);
    const put = await fetch(signed.parts[0].url, { method: 'PUT', headers: signed.parts[0].headers, body: data });
    expect(put.status).toBe(200);
    const etag = put.headers.get('etag');

    const complete = (list: unknown) =>
      t.http
        .post('/storage/sign/multipart/complete')
        .set('Authorization', t.auth)
        .send({ ...ref, parts: list });
    await complete([
      { partNumber: 2, etag },
      { partNumber: 1, etag },
    ]).expect(400);
    const wrong = await complete([{ partNumber: 1, etag: '"0123456789abcdef0123456789abcdef"' }]);
    expect(wrong.status).toBe(400);
    // The grant was released: the right list still completes it.
    const done = await complete([{ partNumber: 1, etag }]).expect(201);
    expect(done.body).toMatchObject({ name: file, size: 1000 });
    // Spent: no second completion, no more parts.
    await complete([{ partNumber: 1, etag }]).expect(403);
    await parts({ ...ref, parts: [2] }).expect(403);
  });

  it('sign/complete records the signed upload that arrived, though a newer multipart upload of the path is open', async () => {
    const file = `${t.prefix}/both.bin`;
    const signed = await t.http
      .post('/storage/sign')
      .set('Authorization', t.auth)
      .send({ file, contentType: 'application/octet-stream', storage: S3 })
      .expect(200);
    const form = new FormData();
    for (const [name, value] of Object.entries(signed.body.fields as Record<string, string>)) form.append(name, value);
    form.append('file', new Blob([randomBytes(3000)], { type: 'application/octet-stream' }), 'both.bin');
    expect((await fetch(signed.body.url, { method: 'POST', body: form })).status).toBe(204);
    await start({ file }).expect(201);
    const done = await t.http.post('/storage/sign/complete').set('Authorization', t.auth).send({ file, storage: S3 });
    expect(done.status).toBe(201);
    expect(done.body).toMatchObject({ name: file, size: 3000 });
  });

  it('abort drops the upload at the bucket and spends the grant', async () => {
    const file = `${t.prefix}/dropped.bin`;
    const { body: started } = await start({ file }).expect(201);
    const ref = { file, storage: S3, id: started.id, uploadId: started.uploadId };
    const before = await s3.openUploads('refusals');
    expect(before.length).toBeGreaterThan(0);
    await t.http.post('/storage/sign/multipart/abort').set('Authorization', t.auth).send(ref).expect(204);
    expect((await s3.openUploads('refusals')).length).toBe(before.length - 1);
    await t.http
      .post('/storage/sign/multipart/parts')
      .set('Authorization', t.auth)
      .send({ ...ref, parts: [1] })
      .expect(403);
  });
});
