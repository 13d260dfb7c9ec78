import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { FileEntity } from '../src/storage/database/entities/file.entity';
import { RetiredObjectEntity } from '../src/storage/database/entities/retired-object.entity';
import { ThumbnailService } from '../src/storage/thumbnails/thumbnail.service';
import { md5 } from './harness/lifecycle';
import { createTestApp, listFiles, type TestApp } from './harness/test-app';

const FIXTURE = path.join(__dirname, 'fixtures', 'layout-0.1');
/**
 * When the fixture was written (its records' uploadTime). The service runs on a clock that
 * starts a minute later, so that the fixture's expiring file (one hour) is still live whatever
 * day the test runs.
 */
const FIXTURE_WRITTEN_AT = 1795939344393;

/**
 * A data folder written by release 0.1.0 (objects stored under their path, no versions) is
 * adopted by the current release without copying a byte: each record's object becomes its
 * first version, thumbnails stay attached, and the next overwrite starts a new version.
 * SQLite only: the fixture is an embedded data folder (the MySQL suite runs the same migration
 * on an empty schema).
 */
(process.env.DB_URL ? describe.skip : describe)('migration of a 0.1.0 data folder', () => {
  let dataDir: string;
  let t: TestApp;
  let inodes: Map<string, number>;
  const files = () => path.join(dataDir, 'files');
  const auth = () => ({ Authorization: t.auth });

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'storage-migrate-'));
    fs.cpSync(FIXTURE, dataDir, { recursive: true });
    fs.rmSync(path.join(dataDir, 'README.md'));
    inodes = new Map(listFiles(files()).map((f) => [f, fs.statSync(path.join(files(), f)).ino]));
    const started = Date.now();
    const clock = { now: () => FIXTURE_WRITTEN_AT + 60_000 + (Date.now() - started) };
    t = await createTestApp({ env: { DATA_DIR: dataDir }, clock });
  });
  afterAll(async () => {
    await t?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('adopts every object where it lies, as the first version of its record', async () => {
    const rows = await t.app
      .get(DataSource)
      .getRepository(FileEntity)
      .find({ order: { id: 'ASC' } });
    expect(rows.length).toBeGreaterThanOrEqual(6);
    for (const row of rows)
      expect([row.name, row.objectKey, row.objectHash]).toEqual([row.name, row.name, row.keyHash]);
    // Not a byte copied or moved: the same files, the same inodes.
    for (const [file, ino] of inodes) expect([file, fs.statSync(path.join(files(), file)).ino]).toEqual([file, ino]);
  });

  it('serves every file with the bytes its record describes', async () => {
    const expected: Record<string, string> = {
      'docs/plain.txt': 'plain version one\n',
      'docs/overwritten.txt': 'second version, the acknowledged one\n',
      'docs/expiring.txt': 'short-lived\n',
    };
    for (const [k, body] of Object.entries(expected)) {
      const res = await t.http.get(`/storage/files/${k}`).set(auth()).expect(200);
      expect([k, res.text, res.headers.etag]).toEqual([k, body, `"${md5(body)}"`]);
    }
    const shared = 'shared content stored by md5\n';
    const list = await t.http.get(`/storage/files?limit=100`).set(auth()).expect(200);
    const sharedRecords = list.body.items.filter((r: { md5: string }) => r.md5 === md5(shared));
    expect(sharedRecords).toHaveLength(2);
    const res = await t.http.get(`/storage/files/${sharedRecords[0].name}`).set(auth()).expect(200);
    expect(res.text).toBe(shared);
    const expiring = list.body.items.find((r: { name: string }) => r.name === 'docs/expiring.txt');
    expect(expiring.expires).toBeGreaterThan(expiring.uploadTime);
  });

  it('keeps stored thumbnails attached: served from storage, not rendered again', async () => {
    const thumbnails = t.app.get(ThumbnailService);
    const renders = thumbnails.stats.renders;
    // 32 x 32 is no preset: only a token holder gets that exact size (an anonymous caller snaps to 64).
    await t.http.get('/storage/thumbnail/img/pic.png?width=32&height=32').set('Authorization', t.auth).expect(200);
    expect(thumbnails.stats.renders).toBe(renders);
  });

  it('starts a new version at the next overwrite and retires the adopted object', async () => {
    await t.http
      .put('/storage/files/docs/plain.txt')
      .set(auth())
      .set('Content-Type', 'text/plain')
      .send('plain version two\n')
      .expect(201);
    const res = await t.http.get('/storage/files/docs/plain.txt').set(auth()).expect(200);
    expect(res.text).toBe('plain version two\n');
    const db = t.app.get(DataSource);
    const [row] = await db.getRepository(FileEntity).findBy({ name: 'docs/plain.txt' });
    expect(row.objectKey).toMatch(/^docs\/plain\.~v[0-9a-z]+\.txt$/);
    expect(await db.getRepository(RetiredObjectEntity).countBy({ objectKey: 'docs/plain.txt' })).toBe(1);
  });

  it('deletes an adopted file and its object at once', async () => {
    await t.http.delete('/storage/files/docs/overwritten.txt').set(auth()).expect(204);
    expect(fs.existsSync(path.join(files(), 'docs/overwritten.txt'))).toBe(false);
    await t.http.get('/storage/files/docs/overwritten.txt').set(auth()).expect(404);
  });
});
