import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { ResumableUploadEntity } from '../src/storage/database/entities/resumable-upload.entity';
import { FakeClock, isolatedStorage } from './harness/lifecycle';
import { createTestApp, type TestApp } from './harness/test-app';
import { baseUrl, createTusUpload, tusRequest } from './harness/tus';

const DAY = 86400;

/**
 * Expiration: an upload answers `Upload-Expires`, is gone (410) past it, and the reconciler removes
 * what an abandoned or expired upload staged, and chunk objects no upload recorded, while the
 * chunks of a live upload stay whatever the grace period.
 */
describe('resumable uploads (tus): expiry and clean-up', () => {
  const storage = isolatedStorage();
  const clock = new FakeClock();
  let t: TestApp;
  let base: string;

  beforeAll(async () => {
    t = await createTestApp({ config: storage.config, clock, env: { ORPHAN_GRACE_SECONDS: '0' } });
    base = baseUrl(t);
  });
  afterAll(async () => {
    await t.close();
    storage.remove();
  });

  const chunksOf = (location: string) => {
    const dir = path.join(storage.root, '.uploads/tus', location.split('/').pop() as string);
    return fs.existsSync(dir) ? fs.readdirSync(dir) : [];
  };
  const send = (location: string, bytes: number) =>
    tusRequest(base, 'PATCH', location, {
      auth: t.auth,
      headers: { 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': '0' },
      body: Buffer.alloc(bytes, 7),
    });
  const reconcile = async () =>
    (await t.http.post(`/storage/admin/reconcile?storage=${storage.name}`).set('Authorization', t.auth).expect(200))
      .body;

  it('answers Upload-Expires a day ahead, and 410 once it passed', async () => {
    const res = await tusRequest(base, 'POST', '/storage/tus', {
      auth: t.auth,
      headers: {
        'Upload-Length': '100',
        'Upload-Metadata': `name ${Buffer.from(`${t.prefix}/x.bin`).toString('base64')}`,
      },
    });
    expect(res.status).toBe(201);
    const expires = Date.parse(String(res.headers['upload-expires']));
    expect(Math.abs(expires - (clock.now() + DAY * 1000))).toBeLessThan(2000);

    clock.advance(-2 * DAY); // made two days ago: past its expiry now
    const old = await createTusUpload(base, t.auth, 100, { name: `${t.prefix}/old.bin` });
    clock.advance(2 * DAY);
    expect((await tusRequest(base, 'HEAD', old, { auth: t.auth })).status).toBe(410);
    expect((await send(old, 10)).status).toBe(410);
  });

  it("the reconciler removes expired uploads and stray chunks, and keeps a live upload's chunks", async () => {
    const abandoned = await createTusUpload(base, t.auth, 100, { name: `${t.prefix}/abandoned.bin` });
    expect((await send(abandoned, 40)).status).toBe(204);
    expect(chunksOf(abandoned)).toHaveLength(1);
    clock.advance(DAY + 60);
    const live = await createTusUpload(base, t.auth, 100, { name: `${t.prefix}/live.bin` });
    expect((await send(live, 30)).status).toBe(204);
    const stray = path.join(storage.root, '.uploads/tus/0123456789abcdef0123456789abcdef/0.deadbeef0000');
    fs.mkdirSync(path.dirname(stray), { recursive: true });
    fs.writeFileSync(stray, 'left by a process that died before recording it');
    const past = (clock.now() - 60_000) / 1000;
    fs.utimesSync(stray, past, past);

    const report = await reconcile();
    expect(report.resumableUploadsRemoved).toBeGreaterThanOrEqual(1);
    expect(chunksOf(abandoned)).toEqual([]);
    expect(fs.existsSync(stray)).toBe(false);
    expect(chunksOf(live)).toHaveLength(1);
    const rows = await t.app.get(DataSource).getRepository(ResumableUploadEntity).find();
    const ids = rows.map((r) => r.id);
    expect(ids).not.toContain(abandoned.split('/').pop());
    expect(ids).toContain(live.split('/').pop());
    expect((await tusRequest(base, 'HEAD', live, { auth: t.auth })).headers['upload-offset']).toBe('30');
  });
});
