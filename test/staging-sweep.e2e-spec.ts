import { randomBytes } from 'node:crypto';
import { DataSource, Like } from 'typeorm';
import { UploadGrantEntity } from '../src/storage/database/entities/upload-grant.entity';
import type { SignedUpload } from '../src/storage/drivers/storage-driver';
import { StorageRegistry } from '../src/storage/registry/storage-registry';
import { FakeClock } from './harness/lifecycle';
import { s3Instance } from './harness/peers/instances';
import { startS3rver, type S3Peer } from './harness/peers/s3rver';
import { createTestApp, type TestApp } from './harness/test-app';

const STORAGE = 'storages.StagingS3';
const GRACE_SECONDS = 120;

/**
 * Staged objects of cloud signed uploads (`.uploads/…`) go minutes after their URL is spent, not
 * after the day-long orphan grace: an unused URL's upload once the URL expired and the grace for
 * `sign/complete` passed, and what is sent again through a used URL likewise. Time moves with the
 * injected clock; the sweep is triggered by hand (`POST /storage/admin/sweep`), as the background
 * job triggers it every `purgeIntervalSeconds`.
 */
describe('spent staging objects', () => {
  let s3: S3Peer;
  let t: TestApp;
  const clock = new FakeClock();

  beforeAll(async () => {
    s3 = await startS3rver(['staging']);
    t = await createTestApp({
      clock,
      env: { STAGING_GRACE_SECONDS: String(GRACE_SECONDS) },
      config: { storages: { [STORAGE]: s3Instance(s3, 'staging') } },
    });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await s3?.close();
  });

  async function sign(file: string): Promise<SignedUpload> {
    const res = await t.http
      .post('/storage/sign')
      .set('Authorization', t.auth)
      .send({ file, contentType: 'image/png', storage: STORAGE, expiresIn: 60 });
    expect(res.status).toBe(200);
    return res.body as SignedUpload;
  }

  async function send(signed: SignedUpload, data: Buffer): Promise<void> {
    const form = signed.method === 'POST' ? formOf(signed, data) : data;
    const res = await fetch(signed.url, { method: signed.method, headers: signed.headers, body: form });
    expect([200, 201, 204]).toContain(res.status);
  }

  const staged = async () => {
    const keys: string[] = [];
    for await (const o of t.app.get(StorageRegistry).get(STORAGE).driver.list('.uploads/')) keys.push(o.key);
    return keys;
  };
  const grants = (file: string) =>
    t.app
      .get(DataSource)
      .getRepository(UploadGrantEntity)
      .count({ where: { name: Like(file) } });
  const sweep = () => t.http.post(`/storage/admin/sweep?storage=${STORAGE}`).set('Authorization', t.auth).expect(200);

  it('records an unused URL’s finished upload at the next sweep (direct uploads record themselves)', async () => {
    const file = `${t.prefix}/unused.png`;
    const signed = await sign(file);
    const data = randomBytes(1000);
    await send(signed, data);
    expect(await staged()).toHaveLength(1);

    clock.time = signed.expiresAt + (GRACE_SECONDS - 10) * 1000;
    const report = await sweep();
    expect(report.body.stagedRecorded).toBe(1);
    expect(await staged()).toEqual([]);
    const meta = await t.http.get(`/storage/meta/${file}?storage=${STORAGE}`).set('Authorization', t.auth).expect(200);
    expect(meta.body).toMatchObject({ name: file, size: data.length });
    const late = await t.http
      .post('/storage/sign/complete')
      .set('Authorization', t.auth)
      .send({ file, storage: STORAGE });
    expect(late.status).toBe(404);

    clock.time = signed.expiresAt + (GRACE_SECONDS + 1) * 1000;
    await sweep();
    expect(await grants(file)).toBe(0);
  });

  it('removes what is sent again through a used URL, once the URL expired', async () => {
    clock.time = Date.now();
    const file = `${t.prefix}/used.png`;
    const signed = await sign(file);
    await send(signed, randomBytes(1000));
    await t.http
      .post('/storage/sign/complete')
      .set('Authorization', t.auth)
      .send({ file, storage: STORAGE })
      .expect(201);
    expect(await staged()).toEqual([]); // complete removed it
    await send(signed, randomBytes(1000)); // the URL still works until it expires
    expect(await staged()).toHaveLength(1);

    clock.time = signed.expiresAt + (GRACE_SECONDS + 1) * 1000;
    await sweep();
    expect(await staged()).toEqual([]);
    expect(await grants(file)).toBe(0);
  });
});

/** A browser form upload (presigned POST): the signed fields, then the file, last. */
function formOf(signed: SignedUpload & { fields?: Record<string, string> }, data: Buffer): FormData {
  const form = new FormData();
  for (const [name, value] of Object.entries(signed.fields ?? {})) form.append(name, value);
  form.append('file', new Blob([data]));
  return form;
}
