import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { versionKey } from '../src/storage/keys/keys';
import { keyHash } from '../src/storage/ledger/object-ledger';
import { PROCESS_IDENTITY } from '../src/storage/ledger/process-identity';
import { StorageObjectEntity } from '../src/storage/database/entities/storage-object.entity';
import { UploadPinEntity } from '../src/storage/database/entities/upload-pin.entity';
import { enc, FakeClock, isolatedStorage, keyState, md5 } from './harness/lifecycle';
import { transparentPng } from './harness/images';
import { createTestApp, listFiles, type TestApp } from './harness/test-app';

/**
 * The reconciler (`POST /storage/admin/reconcile`): what crashes leave behind goes once it is
 * older than the grace period (objects with no record, temp files, staged direct uploads,
 * uploads that stopped sending heartbeats); records whose object is gone are reported, not
 * deleted.
 */
describe('reconciler', () => {
  const GRACE = 600;
  const clock = new FakeClock();
  const storage = isolatedStorage();
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({
      clock,
      config: storage.config,
      env: { ORPHAN_GRACE_SECONDS: String(GRACE), UPLOAD_LEASE_SECONDS: '60' },
    });
  });
  afterAll(async () => {
    await t.close();
    storage.remove();
  });

  const key = (name: string) => `${t.prefix}/rec/${name}`;
  const file = (k: string) => path.join(storage.root, k);
  /** The file holding the live version of path `k`. */
  const versionFile = async (k: string) => file((await keyState(t, k, storage.name)).records[0].objectKey);

  /** A file written behind the service's back, `age` seconds old by the test clock. */
  function plant(k: string, age: number, content = 'left behind'): void {
    fs.mkdirSync(path.dirname(file(k)), { recursive: true });
    fs.writeFileSync(file(k), content);
    const mtime = (clock.now() - age * 1000) / 1000;
    fs.utimesSync(file(k), mtime, mtime);
  }

  const reconcile = async () =>
    (await t.http.post(`/storage/admin/reconcile?storage=${storage.name}`).set('Authorization', t.auth).expect(200))
      .body;

  async function put(k: string, body: string) {
    return (
      await t.http
        .put(`/storage/files/${enc(k)}`)
        .set('Authorization', t.auth)
        .send(body)
        .expect(201)
    ).body;
  }

  it('removes objects with no record once they are older than the grace period, and keeps records', async () => {
    await put(key('kept.txt'), 'kept');
    plant(key('orphan-old.bin'), GRACE + 5);
    plant(key('orphan-young.bin'), GRACE - 5);
    const report = await reconcile();
    expect(report.orphansRemoved).toEqual([{ storage: storage.name, name: key('orphan-old.bin') }]);
    expect(fs.existsSync(file(key('orphan-old.bin')))).toBe(false);
    expect(fs.existsSync(file(key('orphan-young.bin')))).toBe(true);
    expect(fs.existsSync(await versionFile(key('kept.txt')))).toBe(true);

    clock.advance(10);
    expect((await reconcile()).orphansRemoved).toEqual([{ storage: storage.name, name: key('orphan-young.bin') }]);
    const down = await t.http
      .get(`/storage/files/${enc(key('kept.txt'))}`)
      .set('Authorization', t.auth)
      .expect(200);
    expect(down.text).toBe('kept');
  });

  it('removes abandoned temp files and staged direct uploads past the grace period', async () => {
    plant(key('dir/.~tmp.1b2c3d4e-old'), GRACE + 5);
    plant(key('dir/.~tmp.1b2c3d4e-new'), 5);
    plant('.uploads/abandonedNonce0000000000.png', GRACE + 5);
    const report = await reconcile();
    expect(report.tempFilesRemoved).toBe(2);
    expect(fs.existsSync(file(key('dir/.~tmp.1b2c3d4e-old')))).toBe(false);
    expect(fs.existsSync(file(key('dir/.~tmp.1b2c3d4e-new')))).toBe(true);
    expect(fs.existsSync(file('.uploads/abandonedNonce0000000000.png'))).toBe(false);
  });

  it('reports records whose object is gone or differs in size, and deletes neither', async () => {
    const lost = await put(key('lost.txt'), 'soon lost');
    const changed = await put(key('changed.txt'), 'twelve bytes');
    clock.advance(1);
    fs.rmSync(await versionFile(key('lost.txt')));
    fs.writeFileSync(await versionFile(key('changed.txt')), 'a different length');
    const report = await reconcile();
    expect(report.missingObjects).toEqual([{ storage: storage.name, name: key('lost.txt'), recordIds: [lost.id] }]);
    expect(report.sizeMismatches).toEqual([
      { storage: storage.name, name: key('changed.txt'), recorded: 12, stored: 18 },
    ]);
    expect((await keyState(t, key('lost.txt'), storage.name)).records.map((r) => r.id)).toEqual([lost.id]);
    expect((await keyState(t, key('changed.txt'), storage.name)).records.map((r) => r.id)).toEqual([changed.id]);
  });

  /** What a process that died mid-upload leaves: the key's row, its pin, and the version it was writing. */
  async function plantDeadUpload(k: string, owner: string): Promise<string> {
    const db = t.app.get(DataSource);
    const hash = keyHash(storage.name, k);
    const now = clock.now();
    if (!(await db.getRepository(StorageObjectEntity).existsBy({ keyHash: hash }))) {
      await db.getRepository(StorageObjectEntity).insert({
        keyHash: hash,
        storeFullName: storage.name,
        name: k,
        dedup: false,
        md5: null,
        size: null,
        generation: 1,
        createdAt: now,
        updatedAt: now,
      });
    }
    const objectKey = versionKey(k, now);
    await db.getRepository(UploadPinEntity).insert({
      keyHash: hash,
      kind: 'write',
      objectKey,
      objectHash: keyHash(storage.name, objectKey),
      owner,
      generation: 1,
      createdAt: now,
      heartbeatAt: now,
    });
    plant(objectKey, 0, 'half an upload');
    return objectKey;
  }

  it('releases the pin of an upload on another host that stopped sending heartbeats, and removes what it wrote', async () => {
    const k = key('crashed.bin');
    const written = await plantDeadUpload(k, 'another-host/4242/0123456789ab');
    // The path is never locked by it: a new upload is accepted at once.
    await put(k, 'a fresh upload');
    expect((await reconcile()).stalePins).toBe(0);
    expect(fs.existsSync(file(written))).toBe(true);

    clock.advance(61);
    const report = await reconcile();
    expect(report.stalePins).toBe(1);
    expect((await keyState(t, k, storage.name)).pins).toBe(0);
    expect(fs.existsSync(file(written))).toBe(false);
    const down = await t.http
      .get(`/storage/files/${enc(k)}`)
      .set('Authorization', t.auth)
      .expect(200);
    expect(down.text).toBe('a fresh upload');
  });

  it('releases at once the pin of an upload whose process on this host is gone, without waiting out the lease', async () => {
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    const [host] = PROCESS_IDENTITY.split('/');
    const k = key('killed.bin');
    const written = await plantDeadUpload(k, `${host}/${dead}/0123456789ab`);
    const report = await reconcile();
    expect(report.stalePins).toBe(1);
    expect(await keyState(t, k, storage.name)).toEqual({ records: [], row: null, pins: 0 });
    expect(fs.existsSync(file(written))).toBe(false);
    // A pin of this very process (alive) is never taken for dead, however the clock stands.
    const mine = key('mine.bin');
    const kept = await plantDeadUpload(mine, PROCESS_IDENTITY);
    expect((await reconcile()).stalePins).toBe(0);
    expect(fs.existsSync(file(kept))).toBe(true);
    clock.advance(61);
    expect((await reconcile()).stalePins).toBe(1);
  });

  it('removes thumbnails past the grace period whose source is gone or overwritten, or that no row records', async () => {
    const image = key('thumbs/photo.png');
    await t.http
      .put(`/storage/files/${enc(image)}`)
      .set('Authorization', t.auth)
      .set('Content-Type', 'image/png')
      .send(await transparentPng())
      .expect(201);
    await t.http.get(`/storage/thumbnail/${enc(image)}?storage=${storage.name}&width=16&height=16`).expect(200);
    const derived = () => listFiles(path.join(storage.root, '.thumbnails'));
    const [rendered] = derived();
    expect(rendered).toBeDefined();
    const source = (await keyState(t, image, storage.name)).records[0].objectHash;
    const dead = 'f'.repeat(32);
    const age = (rel: string, seconds: number) => {
      const mtime = (clock.now() - seconds * 1000) / 1000;
      fs.utimesSync(path.join(storage.root, '.thumbnails', rel), mtime, mtime);
    };
    age(rendered, GRACE + 5); // recorded, its source live: kept however old
    const current = rendered.split('/')[1];
    const older = md5('older content');
    plant(`.thumbnails/${source}/${current}/unrecorded.png`, GRACE + 5);
    plant(`.thumbnails/${source}/${older}/of-overwritten-content.png`, GRACE + 5);
    plant(`.thumbnails/${dead}/${older}/of-a-gone-source.png`, GRACE + 5);
    plant(`.thumbnails/${dead}/${older}/young.png`, 5);

    const report = await reconcile();
    expect(report.derivativesRemoved).toBe(3);
    expect(derived().sort()).toEqual([rendered, `${dead}/${older}/young.png`].sort());
    await t.http.get(`/storage/thumbnail/${enc(image)}?storage=${storage.name}&width=16&height=16`).expect(200);
  });

  it('needs an authenticated caller, and a known storage', async () => {
    await t.http.post('/storage/admin/reconcile').expect(401);
    await t.http.post('/storage/admin/sweep').expect(401);
    const res = await t.http.post('/storage/admin/reconcile?storage=storages.Nope').set('Authorization', t.auth);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('E_UNKNOWN_STORAGE');
  });
});
