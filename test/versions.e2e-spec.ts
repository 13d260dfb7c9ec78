import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { LifecycleService } from '../src/storage/jobs/lifecycle.service';
import { RetiredObjectEntity } from '../src/storage/database/entities/retired-object.entity';
import { StorageRegistry } from '../src/storage/registry/storage-registry';
import { enc, FakeClock, isolatedStorage, keyState, md5 } from './harness/lifecycle';
import { s3Instance } from './harness/peers/instances';
import { startS3rver, type S3Peer } from './harness/peers/s3rver';
import { startSwitchProxy, type SwitchProxy } from './harness/peers/switch-proxy';
import { createTestApp, type TestApp } from './harness/test-app';

/**
 * Immutable object versions: a plain upload writes an object of its own and the record's commit
 * is the switch; the version it replaces is removed only after the readers' grace period; a
 * delete is atomic on every database (the record goes with its object queued for removal, and
 * the removal is retried until the backend takes it).
 */
describe('object versions', () => {
  const GRACE = 60;
  const clock = new FakeClock();
  const storage = isolatedStorage();
  let s3: S3Peer;
  let proxy: SwitchProxy;
  let t: TestApp;
  const FLAKY = 'storages.Flaky';

  beforeAll(async () => {
    s3 = await startS3rver(['versions']);
    proxy = await startSwitchProxy({ port: s3.port });
    const config = storage.config as { storages: Record<string, unknown> };
    config.storages[FLAKY] = s3Instance({ endpoint: proxy.endpoint, credentials: s3.credentials }, 'versions', {
      timeoutMs: 1000,
    });
    t = await createTestApp({ clock, config, env: { VERSION_GRACE_SECONDS: String(GRACE) } });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await proxy?.close();
    await s3?.close();
    storage.remove();
  });

  const key = (name: string) => `${t.prefix}/v/${name}`;
  const put = async (k: string, body: string | Buffer, query = '') =>
    (
      await t.http
        .put(`/storage/files/${enc(k)}${query}`)
        .set('Authorization', t.auth)
        .set('Content-Type', 'application/octet-stream')
        .send(body)
        .expect(201)
    ).body;
  const get = (k: string, query = '') => t.http.get(`/storage/files/${enc(k)}${query}`).set('Authorization', t.auth);
  const sweep = (storageName = storage.name) => t.app.get(LifecycleService).sweepExpired({ storage: storageName });
  const retired = () => t.app.get(DataSource).getRepository(RetiredObjectEntity);

  it('writes each upload of a path to a version object of its own; the record keeps the logical path', async () => {
    const k = key('report.pdf');
    const record = await put(k, 'version one');
    expect(record.name).toBe(k);
    expect(record).not.toHaveProperty('objectKey');
    const [row] = (await keyState(t, k, storage.name)).records;
    expect(row.objectKey).toMatch(new RegExp(`^${t.prefix}/v/report\\.~v[0-9a-z]+\\.pdf$`));
    expect(fs.readFileSync(path.join(storage.root, row.objectKey), 'utf8')).toBe('version one');
    expect(fs.existsSync(path.join(storage.root, k))).toBe(false);
  });

  it('a reader of the old version finishes it whole while an overwrite commits; the old version goes after the grace', async () => {
    const k = key('big.bin');
    const v1 = Buffer.alloc(3 * 1024 * 1024, 1);
    const v2 = Buffer.alloc(2 * 1024 * 1024, 2);
    await put(k, v1);
    const oldObject = (await keyState(t, k, storage.name)).records[0].objectKey;
    const reading = await t.service.downloadStream(k, { storage: storage.name });
    await put(k, v2);
    const chunks: Buffer[] = [];
    for await (const chunk of reading.stream) chunks.push(chunk as Buffer);
    expect(md5(Buffer.concat(chunks))).toBe(reading.record.md5);
    expect(reading.record.md5).toBe(md5(v1));

    const now = await get(k).buffer(true).expect(200);
    expect(now.headers.etag).toBe(`"${md5(v2)}"`);
    expect(md5(now.body as Buffer)).toBe(md5(v2));

    expect(fs.existsSync(path.join(storage.root, oldObject))).toBe(true);
    expect((await sweep()).retiredRemoved).toBe(0);
    expect(fs.existsSync(path.join(storage.root, oldObject))).toBe(true);
    clock.advance(GRACE + 1);
    expect((await sweep()).retiredRemoved).toBeGreaterThanOrEqual(1);
    expect(fs.existsSync(path.join(storage.root, oldObject))).toBe(false);
    expect(await retired().countBy({ objectKey: oldObject })).toBe(0);
    await get(k).expect(200);
  });

  it('plain uploads of one path at once are all accepted; the last to commit is the one served', async () => {
    const k = key('raced.txt');
    const bodies = Array.from({ length: 8 }, (_, i) => `body ${i} ${'x'.repeat(i * 1000)}`);
    const records = await Promise.all(bodies.map((b) => put(k, b)));
    const last = records.reduce((a, b) => (b.id > a.id ? b : a));
    const state = await keyState(t, k, storage.name);
    expect(state.records.map((r) => r.id)).toEqual([last.id]);
    expect(state.pins).toBe(0);
    const down = await get(k).expect(200);
    expect(down.text).toBe(bodies.find((b) => md5(b) === last.md5));
    const superseded = records.filter((r) => r.id !== last.id).length;
    expect(await retired().countBy({ storeFullName: storage.name, removeAfter: clock.now() + GRACE * 1000 })).toBe(
      superseded,
    );
  });

  it('a delete whose object the backend refuses: the record goes, the removal is retried until it succeeds', async () => {
    const k = key('refused.txt');
    await put(k, 'to be deleted', `?storage=${FLAKY}`);
    const { objectKey } = (await keyState(t, k, FLAKY)).records[0];
    const driver = t.app.get(StorageRegistry).get(FLAKY).driver;
    expect(await driver.exists(objectKey)).toBe(true);

    proxy.down();
    try {
      await t.http
        .delete(`/storage/files/${enc(k)}?storage=${FLAKY}`)
        .set('Authorization', t.auth)
        .expect(204);
      const [queued] = await retired().findBy({ objectKey });
      expect(queued).toMatchObject({ storeFullName: FLAKY, attempts: 1 });
      expect(queued.lastError).toBeTruthy();
      await get(k, `?storage=${FLAKY}`).expect(404);
      await t.http
        .delete(`/storage/files/${enc(k)}?storage=${FLAKY}`)
        .set('Authorization', t.auth)
        .expect(404);
      clock.advance(3600);
      expect((await sweep(FLAKY)).retiredRemoved).toBe(0);
      expect((await retired().findOneByOrFail({ objectKey })).attempts).toBe(2);
    } finally {
      proxy.up();
    }
    clock.advance(3600);
    expect((await sweep(FLAKY)).retiredRemoved).toBe(1);
    expect(await driver.exists(objectKey)).toBe(false);
    expect(await retired().countBy({ objectKey })).toBe(0);
  });

  it('refuses paths that name internal objects (versions, temp files)', async () => {
    for (const bad of [`${t.prefix}/a.~v123.txt`, `${t.prefix}/.~tmp.x`, `${t.prefix}/x.~y/z`]) {
      const res = await t.http
        .put(`/storage/files/${enc(bad)}`)
        .set('Authorization', t.auth)
        .send('x');
      expect([bad, res.status, res.body.code]).toEqual([bad, 400, 'E_INVALID_PATH']);
    }
  });
});
