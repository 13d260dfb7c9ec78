import { randomBytes } from 'node:crypto';
import { startS3rver, type S3Peer } from './harness/peers/s3rver';
import { startOssServer, type OssServer } from './oss-server/oss-server';
import { s3Instance, minioInstance } from './harness/peers/instances';
import { createTestApp, type TestApp } from './harness/test-app';
import { md5 } from './harness/util';

const MAX = 10_000;
const OSS_ID = 'LTAI-policy-id';
const OSS_SECRET = 'oss-policy-secret-5c1d';
const BACKENDS = ['storages.S3', 'storages.Minio', 'storages.Oss'];

/** Posts a form as a browser does: every signed field in order, then the file, last, as `file`. */
async function postForm(signed: { url: string; fields: Record<string, string> }, data: Buffer, type: string) {
  const form = new FormData();
  for (const [name, value] of Object.entries(signed.fields)) form.append(name, value);
  form.append('file', new Blob([data], { type }), 'upload.bin');
  const res = await fetch(signed.url, { method: 'POST', body: form });
  return { status: res.status, body: await res.text() };
}

/**
 * Signed uploads to S3, MinIO and OSS are POST forms whose policy binds the size: the backend
 * (here s3rver and the test OSS server with the harness's policy checker, which refuses as S3 and
 * OSS do) refuses a body of
 * maxSize + 1 bytes before anything is staged, and accepts maxSize bytes, which `sign/complete`
 * then records.
 */
describe('signed uploads bind the size at the backend (POST policy)', () => {
  let s3: S3Peer;
  let oss: OssServer;
  let t: TestApp;

  beforeAll(async () => {
    s3 = await startS3rver(['policy-s3', 'policy-minio']);
    oss = await startOssServer({ accessKeyId: OSS_ID, accessKeySecret: OSS_SECRET, buckets: ['policy-oss'] });
    t = await createTestApp({
      config: {
        storages: {
          'storages.S3': s3Instance(s3, 'policy-s3'),
          'storages.Minio': minioInstance(s3, 'policy-minio'),
          'storages.Oss': {
            type: 'storages.OssType',
            endpoint: oss.endpoint,
            sldEnable: true, // path style: the test server has no per-bucket host names
            accessKeyId: OSS_ID,
            accessKeySecret: OSS_SECRET,
            bucket: 'policy-oss',
          },
        },
      },
    });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await s3?.close();
    await oss?.close();
  });

  const sign = async (storage: string, file: string) =>
    (
      await t.http
        .post('/storage/sign')
        .set('Authorization', t.auth)
        .send({ file, contentType: 'image/png', storage, maxSize: MAX })
        .expect(200)
    ).body as { url: string; method: string; fields: Record<string, string>; expiresAt: number };

  it.each(BACKENDS)(
    '%s: maxSize + 1 bytes are refused by the backend (400 EntityTooLarge); maxSize bytes are stored and completed',
    async (storage) => {
      const file = `${t.prefix}/${storage.slice(9)}/bound.png`;
      const signed = await sign(storage, file);
      expect(signed).toMatchObject({ method: 'POST', fields: expect.objectContaining({ key: expect.any(String) }) });
      expect(signed.expiresAt).toBeGreaterThan(Date.now());
      const policy = JSON.parse(Buffer.from(signed.fields.policy ?? signed.fields.Policy, 'base64').toString());
      expect(policy.conditions).toContainEqual(['content-length-range', 0, MAX]);

      const over = await postForm(signed, randomBytes(MAX + 1), 'image/png');
      expect(over.status).toBe(400);
      expect(over.body).toContain('<Code>EntityTooLarge</Code>');
      // Nothing was staged: there is nothing to complete.
      await t.http.post('/storage/sign/complete').set('Authorization', t.auth).send({ file, storage }).expect(404);

      const data = randomBytes(MAX);
      const ok = await postForm(signed, data, 'image/png');
      expect([200, 201, 204]).toContain(ok.status);
      const done = await t.http
        .post('/storage/sign/complete')
        .set('Authorization', t.auth)
        .send({ file, storage })
        .expect(201);
      expect(done.body).toMatchObject({ name: file, md5: md5(data), size: MAX, type: 'image/png' });
    },
  );

  it.each(BACKENDS)(
    '%s: a form whose key, type or signature differs from the signed one is refused (403)',
    async (storage) => {
      const file = `${t.prefix}/${storage.slice(9)}/tampered.png`;
      const signed = await sign(storage, file);
      const data = randomBytes(100);
      const keyField = 'key';
      const typeField = Object.keys(signed.fields).find((name) => name.toLowerCase() === 'content-type') as string;
      const sigField = Object.keys(signed.fields).find((name) =>
        ['x-amz-signature', 'signature'].includes(name.toLowerCase()),
      ) as string;
      const variants = [
        { ...signed.fields, [keyField]: `${signed.fields.key}.other` },
        { ...signed.fields, [typeField]: 'text/html' },
        { ...signed.fields, [sigField]: signed.fields[sigField].replace(/^./, (c) => (c === '0' ? '1' : '0')) },
        {
          ...signed.fields,
          [storage === 'storages.Oss' ? 'x-oss-meta-extra' : 'x-amz-meta-extra']: 'not in the policy',
        },
      ];
      for (const fields of variants) {
        const res = await postForm({ url: signed.url, fields }, data, 'image/png');
        expect(res.status).toBe(403);
      }
      // None of them stored anything.
      await t.http.post('/storage/sign/complete').set('Authorization', t.auth).send({ file, storage }).expect(404);
    },
  );
});
