import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FakeClock, isolatedStorage } from './harness/lifecycle';
import { transparentPng } from './harness/images';
import { createTestApp, type TestApp } from './harness/test-app';
import { snapshotTree } from './harness/tree-snapshot';
import { enc, md5 } from './harness/util';

/**
 * Symbolic links planted in a local storage root (a shared volume, a restored archive) are never
 * followed by any route: writes, overwrites, reads, previews, thumbnails, deletes, listings,
 * signed uploads and the reconciler's walk all leave what lies outside the root exactly as it
 * was (bytes and times), and create nothing there.
 */
describe('symbolic links in a local storage root', () => {
  const clock = new FakeClock();
  const storage = isolatedStorage();
  let outside: string;
  let t: TestApp;
  let png: Buffer;

  const root = (...parts: string[]) => path.join(storage.root, ...parts);
  const auth = () => t.auth;

  beforeAll(async () => {
    outside = fs.mkdtempSync(path.join(os.tmpdir(), 'storage-outside-'));
    png = await transparentPng();
    fs.mkdirSync(path.join(outside, 'dir'), { recursive: true });
    fs.writeFileSync(path.join(outside, 'secret.txt'), 'outside secret');
    fs.writeFileSync(path.join(outside, 'dir', 'inner.txt'), 'outside inner');
    fs.writeFileSync(path.join(outside, 'dir', 'photo.png'), png);
    fs.writeFileSync(path.join(outside, 'dir', '.~tmp.old'), 'named like a temp file');
    const old = new Date(Date.now() - 30 * 86_400_000);
    for (const f of ['secret.txt', 'dir/inner.txt', 'dir/photo.png', 'dir/.~tmp.old']) {
      fs.utimesSync(path.join(outside, f), old, old);
    }
    t = await createTestApp({ clock, config: storage.config, env: { ORPHAN_GRACE_SECONDS: '60' } });
    for (const at of ['', 'n/e/']) {
      fs.mkdirSync(root(at), { recursive: true });
      fs.symlinkSync(path.join(outside, 'dir'), root(`${at}dirlink`));
      fs.symlinkSync(path.join(outside, 'secret.txt'), root(`${at}filelink.txt`));
    }
  });
  afterAll(async () => {
    await t.close();
    storage.remove();
    fs.rmSync(outside, { recursive: true, force: true });
  });

  const put = (key: string, body: string | Buffer, query = '') =>
    t.http
      .put(`/storage/files/${enc(key)}${query}`)
      .set('Authorization', auth())
      .set('Content-Type', 'text/plain')
      .send(body);

  /** Runs `routes`, then checks that the outside is unchanged: nothing read into, written, removed. */
  async function untouched(routes: () => Promise<void>): Promise<void> {
    const before = snapshotTree(outside);
    await routes();
    clock.advance(3600);
    await t.http.post(`/storage/admin/reconcile?storage=${storage.name}`).set('Authorization', auth()).expect(200);
    expect(snapshotTree(outside)).toEqual(before);
  }

  it.each([
    ['at the root', ''],
    ['nested', 'n/e/'],
  ])('uploads (PUT, POST, md5, signed) through a link %s are 403 and write nothing outside', async (_label, at) => {
    await untouched(async () => {
      expect((await put(`${at}dirlink/new.txt`, 'x')).status).toBe(403);
      expect((await put(`${at}dirlink/deeper/new.txt`, 'x')).status).toBe(403);
      const multipart = await t.http
        .post('/storage/files')
        .set('Authorization', auth())
        .field('name', `${at}dirlink/multi.txt`)
        .attach('file', Buffer.from('x'), 'multi.txt');
      expect({ status: multipart.status, code: multipart.body.code }).toEqual({
        status: 403,
        code: 'E_ACCESS_DENIED',
      });
      expect(multipart.body.message).toContain('symbolic link');
      // A plain upload to a file link writes a new version beside it, never through it.
      const beside = await put(`${at}filelink.txt`, 'overwritten?');
      expect(beside.status).toBe(201);
      const download = await t.http.get(`/storage/files/${enc(`${at}filelink.txt`)}`).set('Authorization', auth());
      expect(download.text).toBe('overwritten?');

      const sign = await t.http
        .post('/storage/sign')
        .set('Authorization', auth())
        .send({ file: `${at}dirlink/signed.txt`, contentType: 'text/plain' })
        .expect(200);
      const url = new URL(sign.body.url);
      const signed = await t.http
        .put(`${url.pathname}${url.search}`)
        .set('Content-Type', 'text/plain')
        .send('signed bytes');
      expect(signed.status).toBe(403);
    });
  });

  it('an md5 upload whose content-addressed name is a planted link is 403', async () => {
    const body = 'planted content';
    fs.symlinkSync(path.join(outside, 'secret.txt'), root(`${md5(body)}.txt`));
    await untouched(async () => {
      expect((await put('any.txt', body, `?md5=${md5(body)}`)).status).toBe(403);
    });
  });

  it('a multipart upload without a name, into an uploads/ folder that is a link, is 403', async () => {
    fs.symlinkSync(path.join(outside, 'dir'), root('uploads'));
    try {
      await untouched(async () => {
        const res = await t.http
          .post('/storage/files')
          .set('Authorization', auth())
          .attach('file', Buffer.from('x'), 'unnamed.txt');
        expect(res.status).toBe(403);
      });
    } finally {
      fs.unlinkSync(root('uploads'));
    }
  });

  it('files whose folder was swapped for a link are not read, previewed, thumbnailed, overwritten or deleted', async () => {
    const files = ['swap/doc.txt', 'swap/pic.png'];
    expect((await put(files[0], 'inside v1')).status).toBe(201);
    expect((await put(files[0], 'inside v2')).status).toBe(201);
    await t.http
      .put(`/storage/files/${enc(files[1])}`)
      .set('Authorization', auth())
      .set('Content-Type', 'image/png')
      .send(png)
      .expect(201);
    // The folder moves out of the root and a link to it takes its place.
    fs.renameSync(root('swap'), path.join(outside, 'swap'));
    fs.symlinkSync(path.join(outside, 'swap'), root('swap'));
    await untouched(async () => {
      const statuses = {
        download: (await t.http.get(`/storage/files/${enc(files[0])}`).set('Authorization', auth())).status,
        head: (await t.http.head(`/storage/files/${enc(files[0])}`).set('Authorization', auth())).status,
        preview: (await t.http.get(`/storage/preview/${enc(files[0])}`)).status,
        thumbnail: (await t.http.get(`/storage/thumbnail/${enc(files[1])}?width=32&height=32`)).status,
        overwrite: (await put(files[0], 'inside v3')).status,
      };
      expect(statuses).toEqual({ download: 403, head: 403, preview: 403, thumbnail: 403, overwrite: 403 });
      // Meta and the listing are records only: they answer without touching the disk.
      await t.http
        .get(`/storage/meta/${enc(files[0])}`)
        .set('Authorization', auth())
        .expect(200);
      const list = await t.http.get('/storage/files?prefix=swap/').set('Authorization', auth()).expect(200);
      expect(list.body.items.map((i: { name: string }) => i.name).sort()).toEqual([...files].sort());
      // The records go; their objects behind the link stay where they are (their removal is refused).
      await t.http
        .delete(`/storage/files/${enc(files[0])}`)
        .set('Authorization', auth())
        .expect(204);
    });
  });

  it('a .thumbnails folder that is a link never receives a derivative', async () => {
    await t.http
      .put(`/storage/files/${enc('pics/ok.png')}`)
      .set('Authorization', auth())
      .set('Content-Type', 'image/png')
      .send(png)
      .expect(201);
    fs.symlinkSync(path.join(outside, 'dir'), root('.thumbnails'));
    await untouched(async () => {
      const res = await t.http.get(`/storage/thumbnail/${enc('pics/ok.png')}?width=16&height=16`);
      expect(res.status).not.toBe(500);
    });
  });
});
