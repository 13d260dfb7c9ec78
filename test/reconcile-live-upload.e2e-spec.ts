import * as fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { isolatedStorage } from './harness/lifecycle';
import { openUpload } from './harness/open-upload';
import { createTestApp, listFiles, type TestApp } from './harness/test-app';
import { enc, eventually, md5 } from './harness/util';

/**
 * The reconciler with no grace period at all never takes what a live upload still owns: the temp
 * file of a slow upload in flight stays, and the upload completes with its bytes; an abandoned
 * temp file beside it (no live pin names its target) goes in the same run.
 */
describe('reconcile with grace 0 during a slow upload', () => {
  const storage = isolatedStorage();
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ config: storage.config, env: { ORPHAN_GRACE_SECONDS: '0' } });
  });
  afterAll(async () => {
    await t.close();
    storage.remove();
  });

  const temps = (dir: string) =>
    fs.existsSync(dir) ? fs.readdirSync(dir).filter((name) => name.startsWith('.~tmp.')) : [];

  it('keeps the temp file of the upload in flight, removes an abandoned one, and the upload lands whole', async () => {
    const k = `${t.prefix}/slow/big.bin`;
    const dir = path.join(storage.root, path.dirname(k));
    const base = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    const upload = openUpload(base, 'PUT', `/storage/files/${enc(k)}?storage=${storage.name}`, {
      Authorization: t.auth,
      'Content-Type': 'application/octet-stream',
    });
    const chunks = Array.from({ length: 6 }, (_, i) => Buffer.alloc(64 * 1024, i + 1));
    await upload.write(chunks[0]);
    expect(await eventually(() => temps(dir).length === 1)).toBe(true);
    const inFlight = temps(dir)[0];
    // A temp file of a write that died long ago, in the same folder.
    const abandoned = path.join(dir, '.~tmp.0123456789abcdef.dead');
    fs.writeFileSync(abandoned, 'left behind');
    const old = Date.now() / 1000 - 60;
    fs.utimesSync(abandoned, old, old);

    await upload.write(chunks[1]);
    const report = (
      await t.http.post(`/storage/admin/reconcile?storage=${storage.name}`).set('Authorization', t.auth).expect(200)
    ).body;
    expect(report.tempFilesRemoved).toBe(1);
    expect(temps(dir)).toEqual([inFlight]);

    for (const chunk of chunks.slice(2, -1)) await upload.write(chunk);
    const answer = await upload.finish(chunks[chunks.length - 1]);
    expect(answer.status).toBe(201);
    const whole = Buffer.concat(chunks);
    expect(JSON.parse(answer.body)).toMatchObject({ name: k, size: whole.length });
    const got = await t.http
      .get(`/storage/files/${enc(k)}?storage=${storage.name}`)
      .set('Authorization', t.auth)
      .buffer(true)
      .parse((res, done) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => done(null, Buffer.concat(parts)));
      })
      .expect(200);
    expect(md5(got.body as Buffer)).toBe(md5(whole));
    expect(temps(dir)).toEqual([]);
    expect(listFiles(storage.root).some((f) => f.includes('.~tmp.'))).toBe(false);
  });
});
