import { OTHER_TOKEN, createTestApp, listFiles, type TestApp } from './harness/test-app';
import { enc, keyState, md5, references, stored } from './harness/lifecycle';
import * as path from 'node:path';

/**
 * Content stored once by md5: every record that refers to it counts, each keeps its own name,
 * user and expiry, and the object goes only with the last of them, however uploads and deletes
 * interleave.
 */
describe('md5 dedup', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  /** Bytes no other test file (or run) uploads: md5 keys are global on a shared database. */
  const unique = (label: string) => Buffer.from(`${label} ${t.prefix} ${'x'.repeat(2000)}`);

  function upload(data: Buffer, name: string, options: { expires?: number; token?: string } = {}) {
    const query = `?md5=${md5(data)}${options.expires ? `&expires=${options.expires}` : ''}`;
    return t.http
      .put(`/storage/files/${enc(`${t.prefix}/${name}`)}${query}`)
      .set('Authorization', `Bearer ${options.token ?? 'test-token-alice'}`)
      .set('Content-Type', 'text/plain')
      .send(data);
  }

  it('concurrent uploads of the same bytes: one object, one record each, counts right', async () => {
    const data = unique('concurrent');
    const key = `${md5(data)}.txt`;
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        upload(data, `copy-${i}.txt`, {
          expires: i % 2 ? 3600 + i : undefined,
          token: i % 2 ? OTHER_TOKEN : undefined,
        }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(201));
    const records = results.map((r) => r.body);
    expect(new Set(records.map((r) => r.name))).toEqual(new Set([key]));
    expect(new Set(records.map((r) => r.id)).size).toBe(8);
    records.forEach((r, i) => {
      expect(r.fileName).toBe(`copy-${i}.txt`);
      expect(r.uploadUser).toBe(i % 2 ? 'bob' : 'alice');
      expect(r.retentionPeriod).toBe(i % 2 ? 3600 + i : null);
    });
    const state = await keyState(t, key);
    expect(state.records).toHaveLength(8);
    expect(state.pins).toBe(0);
    expect(state.row).toMatchObject({ dedup: true, md5: md5(data), size: data.length });
    expect(await references(t, key)).toBe(8);
    expect(listFiles(path.join(t.dataDir, 'files')).filter((f) => f.startsWith(md5(data)))).toEqual([key]);
  });

  it('removes the object only with the last record', async () => {
    const data = unique('last-one');
    const key = `${md5(data)}.bin`;
    const ids: number[] = [];
    for (const name of ['a.bin', 'b.bin', 'c.bin']) ids.push((await upload(data, name).expect(201)).body.id);
    for (const [i, id] of ids.entries()) {
      await t.http.delete(`/storage/files/${key}?id=${id}`).set('Authorization', t.auth).expect(204);
      const left = ids.length - i - 1;
      expect(await references(t, key)).toBe(left);
      expect(stored(t, key)).toBe(left > 0);
      if (left > 0) {
        const down = await t.http.get(`/storage/files/${key}`).set('Authorization', t.auth).expect(200);
        expect(down.text).toBe(data.toString());
      }
    }
    expect(await keyState(t, key)).toEqual({ records: [], row: null, pins: 0 });
    await t.http.delete(`/storage/files/${key}?id=${ids[0]}`).set('Authorization', t.auth).expect(404);
  });

  it('DELETE without id removes every record of the content, and the object', async () => {
    const data = unique('all');
    const key = `${md5(data)}.txt`;
    await upload(data, 'one.txt').expect(201);
    await upload(data, 'two.txt').expect(201);
    await t.http.delete(`/storage/files/${key}`).set('Authorization', t.auth).expect(204);
    expect(await keyState(t, key)).toEqual({ records: [], row: null, pins: 0 });
    expect(stored(t, key)).toBe(false);
  });

  it('a second upload only verifies: wrong bytes under a stored md5 are refused and add nothing', async () => {
    const data = unique('verify');
    const key = `${md5(data)}.txt`;
    await upload(data, 'first.txt').expect(201);
    const forged = Buffer.from(data);
    forged[0] ^= 1;
    const res = await t.http
      .put(`/storage/files/${t.prefix}/forged.txt?md5=${md5(data)}`)
      .set('Authorization', t.auth)
      .send(forged);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('E_MD5_MISMATCH');
    const state = await keyState(t, key);
    expect(state.records).toHaveLength(1);
    expect(state.pins).toBe(0);
    const down = await t.http.get(`/storage/files/${key}`).set('Authorization', t.auth).expect(200);
    expect(down.text).toBe(data.toString());
  });

  it('a plain upload cannot overwrite content stored by md5 (400: md5 names need md5), and the content stays', async () => {
    const data = unique('guarded');
    const key = `${md5(data)}.txt`;
    await upload(data, 'owner.txt').expect(201);
    const res = await t.http.put(`/storage/files/${key}`).set('Authorization', t.auth).send('overwrite!');
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('E_INVALID_ARGUMENT');
    expect(res.body.message).toContain('pass md5');
    const down = await t.http.get(`/storage/files/${key}`).set('Authorization', t.auth).expect(200);
    expect(down.text).toBe(data.toString());
  });

  it('uploads racing deletes of the same content never leave a record without its bytes', async () => {
    const data = unique('race');
    const key = `${md5(data)}.txt`;
    for (let round = 0; round < 10; round++) {
      const first = await upload(data, `seed-${round}.txt`).expect(201);
      const outcomes = await Promise.all([
        t.http.delete(`/storage/files/${key}`).set('Authorization', t.auth),
        upload(data, `racer-${round}-a.txt`),
        t.http.delete(`/storage/files/${key}?id=${first.body.id}`).set('Authorization', t.auth),
        upload(data, `racer-${round}-b.txt`),
      ]);
      const [deleteAll, uploadA, deleteOne, uploadB] = outcomes.map((o) => o.status);
      expect([uploadA, uploadB]).toEqual([201, 201]);
      expect([204, 404]).toContain(deleteAll);
      expect([204, 404]).toContain(deleteOne);
      const state = await keyState(t, key);
      expect(state.pins).toBe(0);
      expect(stored(t, key)).toBe(state.records.length > 0);
      expect(state.row === null).toBe(state.records.length === 0);
      if (state.records.length > 0) {
        const down = await t.http.get(`/storage/files/${key}`).set('Authorization', t.auth).expect(200);
        expect(md5(down.text)).toBe(md5(data));
        await t.http.delete(`/storage/files/${key}`).set('Authorization', t.auth).expect(204);
      }
    }
  });
});
