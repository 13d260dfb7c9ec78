import type { AddressInfo } from 'node:net';
import { keyState, storedVersions } from './harness/lifecycle';
import { openUpload } from './harness/open-upload';
import { OwnMariaDb } from './harness/peers/mariadb';
import { createTestApp, listFiles, type TestApp } from './harness/test-app';
import { enc, eventually } from './harness/util';

/**
 * The database goes away between the object write and the record write: an upload has its claim
 * (its pin is in the database) and its bytes are on disk when the MariaDB of the test's own is
 * killed (connections refused) or paused (SIGSTOP: hung). The upload answers 503
 * `E_DATABASE_UNAVAILABLE` within the timeout, and once the database is back nothing is
 * half-done: the old version is still the one served, no record points at a missing object, and
 * the object the upload wrote is gone (its release could not reach the database then; the
 * reconciler releases the silent pin after the lease and removes the object).
 */
const TIMEOUT_MS = 1500;
// The timeout, plus the pool's second wait when it must open a new connection, plus slack for 2 cores.
const BOUND_MS = 2 * TIMEOUT_MS + 3000;
const LEASE_SECONDS = 2;

jest.setTimeout(120_000);

describe('the database lost between the object write and the record write (a MariaDB of the test own)', () => {
  let db: OwnMariaDb;
  let t: TestApp;

  beforeAll(async () => {
    db = await OwnMariaDb.start();
    t = await createTestApp({
      env: {
        DB_URL: db.url,
        DB_TIMEOUT_MS: String(TIMEOUT_MS),
        UPLOAD_LEASE_SECONDS: String(LEASE_SECONDS),
        ORPHAN_GRACE_SECONDS: '0',
        VERSION_GRACE_SECONDS: '0',
      },
    });
  });
  afterAll(async () => {
    db?.resume();
    await t?.close();
    await db?.remove();
  });

  const base = () => `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
  const outages: Array<[string, () => Promise<void>, () => Promise<void>]> = [
    ['killed', () => db.kill(), () => db.restart()],
    ['paused', async () => db.pause(), async () => db.resume()],
  ];

  it.each(outages)('%s: 503 within the timeout, then nothing half-done', async (name, stop, start) => {
    const k = `${t.prefix}/${name}/report.txt`;
    const put = await t.http
      .put(`/storage/files/${enc(k)}`)
      .set('Authorization', t.auth)
      .send('old version');
    expect(put.status).toBe(201);
    const before = listFiles(t.dataDir).sort();

    const upload = openUpload(base(), 'PUT', `/storage/files/${enc(k)}`, {
      Authorization: t.auth,
      'Content-Type': 'text/plain',
    });
    await upload.write(Buffer.from('new version, first half; '));
    // The claim is taken: the new version's object is being written beside the old one.
    expect(await eventually(async () => (await keyState(t, k)).pins === 1)).toBe(true);
    await stop();
    let answer: { status: number; body: string };
    const started = Date.now();
    try {
      answer = await upload.finish(Buffer.from('second half'));
    } finally {
      await start();
    }
    expect(Date.now() - started).toBeLessThan(BOUND_MS);
    expect([answer.status, JSON.parse(answer.body).code]).toEqual([503, 'E_DATABASE_UNAVAILABLE']);

    expect(await eventually(async () => (await t.http.get('/health/ready')).status === 200, 30_000)).toBe(true);
    // The old version is still the one served, whole.
    const served = await t.http.get(`/storage/files/${enc(k)}`).set('Authorization', t.auth);
    expect([served.status, served.text]).toEqual([200, 'old version']);
    // Past the lease the reconciler releases the silent pin and removes what the upload wrote.
    await new Promise((resolve) => setTimeout(resolve, LEASE_SECONDS * 1000 + 500));
    await t.http.post('/storage/admin/reconcile').set('Authorization', t.auth).expect(200);
    const state = await keyState(t, k);
    expect(state).toMatchObject({ pins: 0, records: [expect.objectContaining({ size: 'old version'.length })] });
    // No record points at a missing object, and no object is left without a record.
    expect(storedVersions(t, k)).toEqual([expect.stringContaining(state.records[0].objectKey.split('/').pop()!)]);
    expect(listFiles(t.dataDir).sort()).toEqual(before);
  });
});
