import { DataSource } from 'typeorm';
import { FileEntity } from '../src/storage/database/entities/file.entity';
import { RetiredObjectEntity } from '../src/storage/database/entities/retired-object.entity';
import { StorageObjectEntity } from '../src/storage/database/entities/storage-object.entity';
import { KeyLocks } from '../src/storage/ledger/key-locks';
import { keyHash, ObjectLedger } from '../src/storage/ledger/object-ledger';
import { insertReturns } from '../src/storage/ledger/sql';
import { UploadClaims } from '../src/storage/upload/upload-claims';
import { enc, isolatedStorage, keyState, md5, storedVersions } from './harness/lifecycle';
import { createTestApp, type TestApp } from './harness/test-app';

/**
 * Plain uploads that finish together are committed in one transaction (group commit), and a
 * plain upload pins its version without the key's lock: each upload still gets its own record
 * (its own id), the last commit of a path is its live version and retires the ones before, no
 * pin is left, and a key holding content stored by md5 refuses a plain upload at its commit,
 * leaving nothing of it.
 */
describe('plain uploads committed together', () => {
  const storage = isolatedStorage();
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ config: storage.config });
  });
  afterAll(async () => {
    await t?.close();
    storage.remove();
  });

  const fieldsOf = (name: string, n: number) => ({
    md5: md5(String(n)),
    size: n,
    name,
    type: 'application/octet-stream',
    expiresSeconds: null,
    fileName: `${n}.bin`,
    uid: `uid-${n}`,
    fullName: 'storages.LocalType',
    storeFullName: storage.name,
    uploadUser: null,
    updateUserId: null,
  });

  it('records each upload of a batch with its own id; the last of a path replaces the ones before', async () => {
    const claims = t.app.get(UploadClaims);
    const objects = t.app.get(ObjectLedger);
    const batches = jest.spyOn(t.app.get(KeyLocks), 'runMany');
    // Every statement of the uploads, as the data source's query runners are asked them.
    const dataSource = t.app.get(DataSource);
    const runner = dataSource.createQueryRunner();
    const statements = jest.spyOn(Object.getPrototypeOf(runner) as { query(text: string): unknown }, 'query');
    await runner.release();
    const same = `${t.prefix}/g/same.bin`;
    const names = [...Array.from({ length: 10 }, (_, i) => `${t.prefix}/g/${i}.bin`), same, same, same, same];
    const claimed = await Promise.all(names.map((n) => claims.claim(objects.ref(storage.name, n), { dedup: false })));
    const committed = await Promise.all(claimed.map((c, i) => claims.commit(c, fieldsOf(names[i], i + 1))));
    // Submitted together: the first commit runs alone, the rest wait for it and go as batches.
    expect(batches.mock.calls.some(([refs]) => refs.length > 1)).toBe(true);
    batches.mockRestore();
    // Where the database returns what an insert made (SQLite, MariaDB), batches of pins and
    // records take their ids from the insert: nothing is read back.
    const texts = statements.mock.calls.map(([text]) => text);
    statements.mockRestore();
    if (await insertReturns(dataSource.manager)) {
      expect(texts.filter((text) => / RETURNING id, objectHash$/.test(text)).length).toBeGreaterThan(0);
      expect(texts.filter((text) => text.startsWith('SELECT id, objectHash FROM'))).toEqual([]);
    }

    const files = t.app.get(DataSource).getRepository(FileEntity);
    for (const [i, { record }] of committed.slice(0, 10).entries()) {
      const stored = await files.findOneByOrFail({ id: record.id });
      expect(stored).toMatchObject({
        name: names[i],
        objectKey: claimed[i].objectKey,
        size: i + 1,
        uid: `uid-${i + 1}`,
      });
      expect(await keyState(t, names[i], storage.name)).toMatchObject({ records: [{ id: record.id }], pins: 0 });
    }
    // Commits of one path keep their order: the last is live, the three before are retired.
    const state = await keyState(t, same, storage.name);
    expect(state.records).toHaveLength(1);
    expect(state.records[0]).toMatchObject({ id: committed[13].record.id, objectKey: claimed[13].objectKey, size: 14 });
    expect(state.pins).toBe(0);
    const retired = await t.app
      .get(DataSource)
      .getRepository(RetiredObjectEntity)
      .findBy({ storeFullName: storage.name });
    expect(retired.map((r) => r.objectKey).sort()).toEqual(
      claimed
        .slice(10, 13)
        .map((c) => c.objectKey)
        .sort(),
    );
    expect(committed.slice(11).every(({ retired: ids }) => ids.length === 1)).toBe(true);
  });

  it('refuses at its commit a plain upload to a key holding content stored by md5, and leaves nothing of it', async () => {
    const k = `${t.prefix}/g/held.bin`;
    const now = Date.now();
    // A key holding shared content with a record (as data adopted from an older layout may).
    const db = t.app.get(DataSource);
    const hash = keyHash(storage.name, k);
    await db.getRepository(StorageObjectEntity).insert({
      keyHash: hash,
      storeFullName: storage.name,
      name: k,
      dedup: true,
      md5: md5('shared'),
      size: 6,
      generation: 1,
      createdAt: now,
      updatedAt: now,
    });
    await db.getRepository(FileEntity).insert({
      name: k,
      size: 6,
      type: 'application/octet-stream',
      fileName: 'shared.bin',
      uid: 'uid-shared',
      fullName: 'storages.LocalType',
      storeFullName: storage.name,
      uploadUser: null,
      updateUserId: null,
      md5: md5('shared'),
      keyHash: hash,
      objectKey: k,
      objectHash: hash,
      expires: null,
      uploadTime: now,
      retentionPeriod: null,
    });
    const res = await t.http
      .put(`/storage/files/${enc(k)}`)
      .set('Authorization', t.auth)
      .set('Content-Type', 'application/octet-stream')
      .send('plain bytes')
      .expect(409);
    expect(res.body.code).toBe('E_CONFLICT');
    const state = await keyState(t, k, storage.name);
    expect({ records: state.records.map((r) => r.objectKey), pins: state.pins, dedup: state.row?.dedup }).toEqual({
      records: [k],
      pins: 0,
      dedup: true,
    });
    // Nothing of the refused upload stays on disk (the shared content was never written here).
    expect(storedVersions(t, k, storage.root)).toEqual([]);
  });
});
