import { enc, FakeClock, isolatedStorage, keyState, md5, stored } from './harness/lifecycle';
import { createTestApp, type TestApp } from './harness/test-app';

/**
 * Expiry on access: an expired file answers 404 on every read route at once, before any sweep
 * runs, and is removed on the way (record and object), unless another live record still uses
 * the content.
 */
describe('file expiry', () => {
  let t: TestApp;
  const clock = new FakeClock();
  // Its own instance: this file's clock runs ahead, and its sweep must not reach other files' records.
  const storage = isolatedStorage();

  beforeAll(async () => {
    t = await createTestApp({ clock, config: storage.config });
  });
  afterAll(async () => {
    await t.close();
    storage.remove();
  });

  const key = (name: string) => `${t.prefix}/expiry/${name}`;

  async function put(k: string, body: string, query = '') {
    const res = await t.http
      .put(`/storage/files/${enc(k)}${query}`)
      .set('Authorization', t.auth)
      .set('Content-Type', 'text/plain')
      .send(body)
      .expect(201);
    return res.body;
  }

  it('records the expiry time and the retention period', async () => {
    const record = await put(key('timed.txt'), 'timed', '?expires=3600');
    expect(record.retentionPeriod).toBe(3600);
    expect(record.expires).toBe(record.uploadTime + 3600 * 1000);
    expect(record.uploadTime).toBe(clock.now());
  });

  const routes: Array<[string, (k: string) => Promise<{ status: number; body: { code?: string } }>]> = [
    ['GET files (download)', (k) => t.http.get(`/storage/files/${enc(k)}`).set('Authorization', t.auth)],
    ['HEAD files', (k) => t.http.head(`/storage/files/${enc(k)}`).set('Authorization', t.auth)],
    ['GET meta', (k) => t.http.get(`/storage/meta/${enc(k)}`).set('Authorization', t.auth)],
    ['GET preview (public)', (k) => t.http.get(`/storage/preview/${enc(k)}`)],
    ['GET thumbnail (public)', (k) => t.http.get(`/storage/thumbnail/${enc(k)}`)],
    ['DELETE files', (k) => t.http.delete(`/storage/files/${enc(k)}`).set('Authorization', t.auth)],
  ];

  it.each(routes)('%s of an expired file → 404 at once, and the file is removed', async (_label, request) => {
    const k = key(`gone-${md5(_label).slice(0, 8)}.txt`);
    await put(k, 'short-lived', '?expires=60');
    clock.advance(59);
    const before = await keyState(t, k, storage.name);
    expect(before.records).toHaveLength(1);
    expect(stored(t, k, storage.root)).toBe(true);

    clock.advance(2);
    const res = await request(k);
    expect(res.status).toBe(404);
    if (res.body && typeof res.body === 'object' && 'code' in res.body) expect(res.body.code).toBe('E_NOT_FOUND');
    const after = await keyState(t, k, storage.name);
    expect(after).toEqual({ records: [], row: null, pins: 0 });
    expect(stored(t, k, storage.root)).toBe(false);
  });

  it('is not listed once expired', async () => {
    const k = key('listed/one.txt');
    await put(k, 'listed', '?expires=5');
    const list = () =>
      t.http
        .get('/storage/files')
        .query({ prefix: key('listed/') })
        .set('Authorization', t.auth)
        .expect(200);
    expect((await list()).body.items).toHaveLength(1);
    clock.advance(6);
    expect((await list()).body.items).toHaveLength(0);
  });

  it('lists past a long run of expired records page by page: a page stops at its window, with a cursor', async () => {
    await put(key('run/first.txt'), 'first');
    for (let i = 0; i < 45; i++) await put(key(`run/gone-${i}.txt`), 'gone', '?expires=5');
    await put(key('run/last.txt'), 'last');
    clock.advance(6);
    // limit 1: a page without a prefix reads at most 10 x 2 index entries, so at least one falls inside the run of 45.
    const pages: { items: { name: string }[]; nextCursor: string | null }[] = [];
    let cursor: string | undefined;
    do {
      const res = await t.http
        .get('/storage/files')
        .query(cursor ? { limit: 1, cursor } : { limit: 1 })
        .set('Authorization', t.auth)
        .expect(200);
      pages.push(res.body);
      cursor = res.body.nextCursor ?? undefined;
    } while (cursor && pages.length < 1000);
    const names = pages.flatMap((p) => p.items.map((r) => r.name)).filter((n) => n.startsWith(key('run/')));
    expect(names).toEqual([key('run/first.txt'), key('run/last.txt')]);
    expect(pages.some((p) => p.items.length === 0 && p.nextCursor !== null)).toBe(true);
  });

  it('keeps shared content while another live record uses it, and serves that record', async () => {
    const data = `shared ${t.prefix}`;
    const permanent = await put(key('keep.txt'), data, `?md5=${md5(data)}`);
    const timed = await put(key('brief.txt'), data, `?md5=${md5(data)}&expires=10`);
    expect(timed.name).toBe(permanent.name);
    clock.advance(11);

    const meta = await t.http.get(`/storage/meta/${permanent.name}`).set('Authorization', t.auth).expect(200);
    expect(meta.body.id).toBe(permanent.id);
    const sweep = await t.http
      .post(`/storage/admin/sweep?storage=${storage.name}`)
      .set('Authorization', t.auth)
      .expect(200);
    expect(sweep.body.removed.map((r: { id: number }) => r.id)).toContain(timed.id);
    const state = await keyState(t, permanent.name, storage.name);
    expect(state.records.map((r) => r.id)).toEqual([permanent.id]);
    expect(stored(t, permanent.name, storage.root)).toBe(true);
    const down = await t.http.get(`/storage/files/${permanent.name}`).set('Authorization', t.auth).expect(200);
    expect(down.text).toBe(data);
  });

  it('a re-upload of an expired path gets a fresh file with its own expiry', async () => {
    const k = key('again.txt');
    await put(k, 'first', '?expires=10');
    clock.advance(11);
    const second = await put(k, 'second');
    expect(second.expires).toBeNull();
    const down = await t.http
      .get(`/storage/files/${enc(k)}`)
      .set('Authorization', t.auth)
      .expect(200);
    expect(down.text).toBe('second');
    expect((await keyState(t, k, storage.name)).records.map((r) => r.id)).toEqual([second.id]);
  });

  it('refuses an expiry that is not a positive whole number of seconds', async () => {
    for (const bad of ['0', '-5', '1.5', 'soon']) {
      const res = await t.http
        .put(`/storage/files/${enc(key('bad.txt'))}?expires=${bad}`)
        .set('Authorization', t.auth)
        .send('x');
      expect([bad, res.status]).toEqual([bad, 400]);
    }
    expect(await keyState(t, key('bad.txt'), storage.name)).toEqual({ records: [], row: null, pins: 0 });
  });
});
