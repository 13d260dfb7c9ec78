import type { AddressInfo } from 'node:net';
import { DataSource } from 'typeorm';
import { keyState, storedVersions } from './harness/lifecycle';
import { openUpload } from './harness/open-upload';
import { createTestApp, type TestApp } from './harness/test-app';
import { enc, eventually } from './harness/util';

/**
 * SQLite out of space, caused for real: `PRAGMA max_page_count` caps the test's own database file
 * at the pages it has, and a scratch table takes every free page, so the next write that needs a
 * page fails with `SQLITE_FULL`, as on a full disk. The record written here needs pages of its
 * own (a long path and file name overflow one page), so the commit cannot squeeze in.
 */
const onSqlite = process.env.DB_URL ? describe.skip : describe;

onSqlite('the SQLite database out of space', () => {
  let t: TestApp;
  let db: DataSource;
  const FULL_MESSAGE = 'the database is out of space and could not be written; free space for the database';

  beforeAll(async () => {
    t = await createTestApp();
    db = t.app.get(DataSource);
    await db.query('CREATE TABLE IF NOT EXISTS test_filler (data BLOB)');
  });
  afterEach(() => makeRoom(db));
  afterAll(() => t?.close());

  /** A path of about 750 bytes and a file name of 3000: a record row larger than a page. */
  const longKey = (name: string) => `${t.prefix}/${['a', 'b', 'c'].map((c) => c.repeat(240)).join('/')}/${name}`;
  const longFileName = `${'€'.repeat(1000)}.txt`;
  const base = () => `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
  const post = (key: string, body: string) =>
    t.http
      .post('/storage/files')
      .set('Authorization', t.auth)
      .field('name', key)
      .attach('file', Buffer.from(body), { filename: longFileName, contentType: 'text/plain' });

  it('an upload while the database is full: 507 naming the database, nothing stored', async () => {
    const k = longKey('new.txt');
    await fill(db);
    const res = await post(k, 'new bytes');
    expect(res.body).toEqual({ statusCode: 507, code: 'E_INSUFFICIENT_STORAGE', message: FULL_MESSAGE });
    await makeRoom(db);
    expect(storedVersions(t, k)).toEqual([]);
    expect(await keyState(t, k)).toMatchObject({ records: [], pins: 0 });
    expect((await post(k, 'new bytes')).status).toBe(201);
  });

  it('the database fills while the object is written: 507, the object removed, the old version served', async () => {
    const k = longKey('over.txt');
    expect((await post(k, 'old version')).status).toBe(201);
    const boundary = 'full-database-boundary';
    const upload = openUpload(base(), 'POST', '/storage/files', {
      Authorization: t.auth,
      'Content-Type': `multipart/form-data; boundary=${boundary}`,
    });
    await upload.write(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\n${k}\r\n` +
          `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${longFileName}"\r\n` +
          'Content-Type: text/plain\r\n\r\nnew version, first half; ',
      ),
    );
    // The claim is taken (its pin written): the new version's object is being written.
    expect(await eventually(async () => (await keyState(t, k)).pins === 1)).toBe(true);
    await fill(db);
    const answer = await upload.finish(Buffer.from(`second half\r\n--${boundary}--\r\n`));
    expect([answer.status, JSON.parse(answer.body)]).toEqual([
      507,
      { statusCode: 507, code: 'E_INSUFFICIENT_STORAGE', message: FULL_MESSAGE },
    ]);
    // Still full: what the failed upload wrote is gone all the same, and the old record stands whole.
    expect(storedVersions(t, k)).toHaveLength(1);
    const state = await keyState(t, k);
    expect(state).toMatchObject({ pins: 0, records: [expect.objectContaining({ size: 'old version'.length })] });
    const served = await t.http.get(`/storage/files/${enc(k)}`).set('Authorization', t.auth);
    expect([served.status, served.text]).toEqual([200, 'old version']);
  });
});

/** Caps the database at its current pages and fills every free one: the next page it needs is refused. */
async function fill(db: DataSource): Promise<void> {
  const [{ page_count: pages }] = (await db.query('PRAGMA page_count')) as Array<{ page_count: number }>;
  await db.query(`PRAGMA max_page_count = ${pages}`);
  for (const size of [4000, 500, 50]) {
    for (let i = 0; i < 100_000; i++) {
      try {
        await db.query(`INSERT INTO test_filler (data) VALUES (randomblob(${size}))`);
      } catch (err) {
        if ((err as { driverError?: { code?: string } }).driverError?.code !== 'SQLITE_FULL') throw err;
        break;
      }
    }
  }
}

/** Lifts the cap and frees the scratch table's pages. */
async function makeRoom(db: DataSource): Promise<void> {
  await db.query('DELETE FROM test_filler');
  await db.query('PRAGMA max_page_count = 1073741823');
}
