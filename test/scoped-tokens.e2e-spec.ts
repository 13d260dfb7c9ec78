import { randomBytes } from 'node:crypto';
import type { SignedUrl } from '../src/storage/drivers/storage-driver';
import { enc, FakeClock, md5 } from './harness/lifecycle';
import { photoJpeg } from './harness/images';
import { createTestApp, type TestApp } from './harness/test-app';

/**
 * Scoped tokens, private instances and signed download URLs over HTTP: each token may do only
 * what its scopes, instances and key prefix allow, a refused request changes nothing, and a
 * private instance's files are shown only with a token or a signed download URL until it expires.
 */
describe('scoped tokens, private instances, signed downloads', () => {
  let t: TestApp;
  const clock = new FakeClock();
  // Known before the app starts, so the prefix-scoped token can be configured with it.
  const P = `s${randomBytes(4).toString('hex')}`;
  const TOKENS = {
    alice: 'tok-alice-full-access',
    reader: 'tok-reader-read-only',
    scoped: 'tok-scoped-to-a-prefix',
    media: 'tok-private-instance-only',
    bob: 'tok-bob-read-write-delete',
  };
  const bearer = (name: keyof typeof TOKENS) => `Bearer ${TOKENS[name]}`;

  beforeAll(async () => {
    t = await createTestApp({
      clock,
      env: { SIGNING_SECRET: 'e2e-signing-secret-0123456789' },
      config: {
        storages: { 'storages.Private': { type: 'storages.LocalType', root: '${DATA_DIR}/private', public: false } },
        apiTokens: {
          alice: TOKENS.alice,
          reader: { token: TOKENS.reader, scopes: ['read'] },
          scoped: { token: TOKENS.scoped, scopes: ['read', 'write', 'delete'], prefix: `${P}/mine/` },
          media: { token: TOKENS.media, scopes: ['read', 'write', 'delete'], storages: ['storages.Private'] },
          bob: { token: TOKENS.bob, scopes: ['read', 'write', 'delete'] },
        },
      },
    });
  });
  afterAll(() => t.close());

  async function put(key: string, body: string, who: keyof typeof TOKENS = 'alice', storage?: string) {
    const query = storage ? `?storage=${storage}` : '';
    return t.http
      .put(`/storage/files/${enc(key)}${query}`)
      .set('Authorization', bearer(who))
      .set('Content-Type', 'text/plain')
      .send(body);
  }

  async function download(key: string, who: keyof typeof TOKENS, storage?: string) {
    const query = storage ? `?storage=${storage}` : '';
    return t.http.get(`/storage/files/${enc(key)}${query}`).set('Authorization', bearer(who));
  }

  describe('a read-only token', () => {
    const key = () => `${P}/reader/file.txt`;
    beforeAll(async () => expect((await put(key(), 'original')).status).toBe(201));

    it('reads: download, HEAD, meta, list, and a signed download URL', async () => {
      expect((await download(key(), 'reader')).text).toBe('original');
      expect((await t.http.head(`/storage/files/${enc(key())}`).set('Authorization', bearer('reader'))).status).toBe(
        200,
      );
      expect((await t.http.get(`/storage/meta/${enc(key())}`).set('Authorization', bearer('reader'))).status).toBe(200);
      const list = await t.http.get(`/storage/files?prefix=${P}/reader/`).set('Authorization', bearer('reader'));
      expect(list.body.items.map((i: { name: string }) => i.name)).toEqual([key()]);
      const sign = await t.http
        .post('/storage/sign')
        .set('Authorization', bearer('reader'))
        .send({ file: key(), method: 'GET' });
      expect(sign.status).toBe(200);
    });

    it('gets 403 E_FORBIDDEN on every write, delete and admin route, and nothing changes', async () => {
      const refused = [
        await put(key(), 'overwritten', 'reader'),
        await t.http
          .post('/storage/files')
          .set('Authorization', bearer('reader'))
          .field('name', key())
          .attach('file', Buffer.from('overwritten'), 'file.txt'),
        await t.http.delete(`/storage/files/${enc(key())}`).set('Authorization', bearer('reader')),
        await t.http
          .post('/storage/sign')
          .set('Authorization', bearer('reader'))
          .send({ file: key(), contentType: 'text/plain' }),
        await t.http.post('/storage/sign/complete').set('Authorization', bearer('reader')).send({ file: key() }),
        await t.http.post('/storage/admin/sweep').set('Authorization', bearer('reader')),
        await t.http.post('/storage/admin/reconcile').set('Authorization', bearer('reader')),
      ];
      expect(refused.map((r) => [r.status, r.body.code])).toEqual(refused.map(() => [403, 'E_FORBIDDEN']));
      expect((await download(key(), 'alice')).text).toBe('original');
    });

    it('a full-access token (name: token) still runs the admin routes', async () => {
      expect((await t.http.post('/storage/admin/sweep').set('Authorization', bearer('alice'))).status).toBe(200);
    });
  });

  describe('a token limited to a key prefix', () => {
    const mine = (name: string) => `${P}/mine/${name}`;
    const other = (name: string) => `${P}/other/${name}`;
    beforeAll(async () => {
      expect((await put(other('theirs.txt'), 'not yours')).status).toBe(201);
      expect((await put(mine('by-alice.txt'), 'alice wrote it here')).status).toBe(201);
      // Another case is another key (SQLite's LIKE would match it).
      expect((await put(`${P.toUpperCase()}/MINE/cased.txt`, 'not yours either')).status).toBe(201);
    });

    it('reads, writes and deletes under its prefix', async () => {
      expect((await put(mine('own.txt'), 'mine', 'scoped')).status).toBe(201);
      expect((await download(mine('own.txt'), 'scoped')).text).toBe('mine');
      const res = await t.http.delete(`/storage/files/${enc(mine('own.txt'))}`).set('Authorization', bearer('scoped'));
      expect(res.status).toBe(204);
    });

    it('cannot read, write, delete or sign a key outside it (403), and nothing changes', async () => {
      const key = other('theirs.txt');
      const auth = bearer('scoped');
      const refused = [
        await download(key, 'scoped'),
        await t.http.head(`/storage/files/${enc(key)}`).set('Authorization', auth),
        await t.http.get(`/storage/meta/${enc(key)}`).set('Authorization', auth),
        await put(key, 'overwritten', 'scoped'),
        await t.http.delete(`/storage/files/${enc(key)}`).set('Authorization', auth),
        await t.http.post('/storage/sign').set('Authorization', auth).send({ file: key, contentType: 'text/plain' }),
        await t.http.post('/storage/sign').set('Authorization', auth).send({ file: key, method: 'GET' }),
        await t.http
          .post('/storage/files')
          .set('Authorization', auth)
          .field('name', key)
          .attach('file', Buffer.from('x'), 'x.txt'),
        // Without a name the key is uploads/{id}.txt, and with md5 it is {md5}.txt: both outside.
        await t.http.post('/storage/files').set('Authorization', auth).attach('file', Buffer.from('x'), 'x.txt'),
        await t.http
          .put(`/storage/files/${enc(mine('hashed.txt'))}?md5=${md5(Buffer.from('hashed'))}`)
          .set('Authorization', auth)
          .set('Content-Type', 'text/plain')
          .send('hashed'),
      ];
      expect(refused.map((r) => r.status)).toEqual(refused.map(() => 403));
      expect((await download(key, 'alice')).text).toBe('not yours');
      await expect(t.service.getMeta(`${md5(Buffer.from('hashed'))}.txt`)).rejects.toThrow(/not found/);
    });

    it('lists only its own prefix: by default, when asking wider, and 403 outside', async () => {
      const auth = bearer('scoped');
      const names = (res: { body: { items: Array<{ name: string }> } }) => res.body.items.map((i) => i.name);
      const all = await t.http.get('/storage/files?limit=1000').set('Authorization', auth);
      expect(all.status).toBe(200);
      expect(names(all).length).toBeGreaterThan(0);
      expect(names(all).every((n) => n.startsWith(`${P}/mine/`))).toBe(true);
      const wider = await t.http.get(`/storage/files?prefix=${P}/`).set('Authorization', auth);
      expect(names(wider)).toEqual([mine('by-alice.txt')]);
      const outside = await t.http.get(`/storage/files?prefix=${P}/other/`).set('Authorization', auth);
      expect([outside.status, outside.body.code]).toEqual([403, 'E_FORBIDDEN']);
      // The prefix is matched exactly: another case is another key.
      const cased = await t.http.get(`/storage/files?prefix=${P.toUpperCase()}/MINE/`).set('Authorization', auth);
      expect(cased.status).toBe(403);
    });
  });

  describe('a token limited to an instance', () => {
    it('uses its instance and gets 403 on any other', async () => {
      const key = `${P}/instance/a.txt`;
      expect((await put(key, 'private bytes', 'media', 'storages.Private')).status).toBe(201);
      expect((await download(key, 'media', 'storages.Private')).text).toBe('private bytes');
      expect((await put(key, 'x', 'alice')).status).toBe(201);
      const refused = [
        await put(key, 'overwritten', 'media'),
        await download(key, 'media'),
        await t.http.get('/storage/files').set('Authorization', bearer('media')),
        await t.http.delete(`/storage/files/${enc(key)}`).set('Authorization', bearer('media')),
      ];
      expect(refused.map((r) => r.status)).toEqual([403, 403, 403, 403]);
      expect((await download(key, 'alice')).text).toBe('x');
    });
  });

  describe("another user's reference to shared content", () => {
    it('is removed only with delete-any, by ?id= or with the path', async () => {
      const data = Buffer.from(`shared ${P}`);
      const hash = md5(data);
      const up = (who: keyof typeof TOKENS) =>
        t.http
          .put(`/storage/files/${P}-shared.txt?md5=${hash}`)
          .set('Authorization', bearer(who))
          .set('Content-Type', 'text/plain')
          .send(data);
      const mine = await up('bob');
      const theirs = await up('alice');
      expect([mine.status, theirs.status]).toEqual([201, 201]);
      const path = `/storage/files/${hash}.txt`;
      const byId = await t.http.delete(`${path}?id=${theirs.body.id}`).set('Authorization', bearer('bob'));
      expect([byId.status, byId.body.code]).toEqual([403, 'E_FORBIDDEN']);
      expect((await t.http.delete(path).set('Authorization', bearer('bob'))).status).toBe(403);
      expect((await t.service.getMeta(`${hash}.txt`)).id).toBe(theirs.body.id);
      // Its own reference, yes; then alice's (full access includes delete-any).
      expect((await t.http.delete(`${path}?id=${mine.body.id}`).set('Authorization', bearer('bob'))).status).toBe(204);
      expect((await t.http.delete(path).set('Authorization', bearer('alice'))).status).toBe(204);
    });
  });

  describe('a private instance (public: false)', () => {
    const key = () => `${P}/private/photo.jpg`;
    let jpeg: Buffer;
    beforeAll(async () => {
      jpeg = await photoJpeg(64, 48);
      const res = await t.http
        .put(`/storage/files/${enc(key())}?storage=storages.Private`)
        .set('Authorization', bearer('alice'))
        .set('Content-Type', 'image/jpeg')
        .send(jpeg);
      expect(res.status).toBe(201);
    });
    const preview = () => `/storage/preview/${enc(key())}?storage=storages.Private`;
    const thumbnail = () => `/storage/thumbnail/${enc(key())}?storage=storages.Private`;

    it('refuses anonymous preview and thumbnails (401) and serves them to a token with read', async () => {
      expect((await t.http.get(preview())).status).toBe(401);
      expect((await t.http.get(thumbnail())).status).toBe(401);
      expect((await t.http.head(preview())).status).toBe(401);
      expect((await t.http.get(preview()).set('Authorization', bearer('reader'))).status).toBe(200);
      expect((await t.http.get(thumbnail()).set('Authorization', bearer('media'))).status).toBe(200);
      // A token whose prefix does not cover the key may not see it.
      expect((await t.http.get(preview()).set('Authorization', bearer('scoped'))).status).toBe(403);
    });

    it('serves a signed download URL (download, preview) until it expires, then 403', async () => {
      const res = await t.http
        .post('/storage/sign')
        .set('Authorization', bearer('reader'))
        .send({ file: key(), method: 'GET', storage: 'storages.Private', expiresIn: 60 });
      expect(res.status).toBe(200);
      const signed = res.body as SignedUrl;
      expect(signed).toEqual({
        url: expect.stringMatching(new RegExp(`^http://storage\\.test/storage/files/${enc(key())}\\?`)),
        method: 'GET',
        headers: {},
        expiresAt: (Math.floor(clock.now() / 1000) + 60) * 1000,
      });
      const url = new URL(signed.url);
      const got = await t.http.get(`${url.pathname}${url.search}`);
      expect(got.status).toBe(200);
      expect(Buffer.compare(got.body as Buffer, jpeg)).toBe(0);
      expect((await t.http.get(`/storage/preview/${enc(key())}${url.search}`)).status).toBe(200);
      expect((await t.http.get(`/storage/thumbnail/${enc(key())}${url.search}`)).status).toBe(200);
      // The signature is bound to the key and the instance.
      const elsewhere = await t.http.get(`/storage/preview/${enc(`${P}/private/other.jpg`)}${url.search}`);
      expect([elsewhere.status, elsewhere.body.code]).toEqual([403, 'E_SIGNATURE_INVALID']);
      const otherStorage = url.search.replace('storages.Private', 'storages.Default');
      expect((await t.http.get(`/storage/files/${enc(key())}${otherStorage}`)).status).toBe(403);
      const tampered = url.search.replace(
        /sig=([^&]{5})(.)/,
        (_m, head: string, sixth: string) => `sig=${head}${sixth === 'A' ? 'B' : 'A'}`,
      );
      expect((await t.http.get(`/storage/preview/${enc(key())}${tampered}`)).status).toBe(403);

      clock.advance(59);
      expect((await t.http.get(`/storage/preview/${enc(key())}${url.search}`)).status).toBe(200);
      clock.advance(1);
      const expired = await t.http.get(`/storage/preview/${enc(key())}${url.search}`);
      expect([expired.status, expired.body.code]).toEqual([403, 'E_SIGNATURE_INVALID']);
      expect((await t.http.get(`${url.pathname}${url.search}`)).status).toBe(403);
    });

    it('a public instance stays public, and an unknown one is refused without naming the instances', async () => {
      expect((await put(`${P}/public.txt`, 'hello')).status).toBe(201);
      expect((await t.http.get(`/storage/preview/${enc(`${P}/public.txt`)}`)).status).toBe(200);
      for (const route of ['preview', 'thumbnail']) {
        const res = await t.http.get(`/storage/${route}/${enc(`${P}/public.txt`)}?storage=storages.Nope`);
        expect([res.status, res.body.code]).toEqual([400, 'E_UNKNOWN_STORAGE']);
        expect(res.text).not.toContain('storages.Default');
        expect(res.text).not.toContain('storages.Private');
      }
    });
  });
});
