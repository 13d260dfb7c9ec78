import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { ThumbnailEntity } from '../src/storage/database/entities/thumbnail.entity';
import { LifecycleService } from '../src/storage/jobs/lifecycle.service';
import { ThumbnailService } from '../src/storage/thumbnails/thumbnail.service';
import { binaryParser, photoJpeg } from './harness/images';
import { enc, FakeClock, isolatedStorage, stored } from './harness/lifecycle';
import { createTestApp, type TestApp } from './harness/test-app';

/**
 * The purger's batches: a sweep's expired objects go with their thumbnails, but only objects that
 * have derivative rows are looked at for derivatives (one query per batch finds them), not every
 * removed object with a row query and a folder listing of its own.
 */
describe('purging a sweep batch', () => {
  const clock = new FakeClock();
  const storage = isolatedStorage();
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ clock, config: storage.config, env: { SWEEP_BATCH_SIZE: '50' } });
  });
  afterAll(async () => {
    await t.close();
    storage.remove();
  });

  const key = (name: string) => `${t.prefix}/${name}`;
  const thumbRows = () => t.app.get(DataSource).getRepository(ThumbnailEntity);
  const derivedFiles = () => {
    const dir = path.join(storage.root, '.thumbnails');
    return fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true }).map(String) : [];
  };

  it('removes every expired object and the thumbnails of those that have some, looking only at those', async () => {
    const plain: string[] = [];
    for (let i = 0; i < 30; i++) {
      plain.push(key(`batch/plain-${i}.txt`));
      await t.http
        .put(`/storage/files/${enc(plain[i])}?expires=60`)
        .set('Authorization', t.auth)
        .set('Content-Type', 'text/plain')
        .send(`plain ${i}`)
        .expect(201);
    }
    const photo = key('batch/photo.jpg');
    await t.http
      .put(`/storage/files/${enc(photo)}?expires=60`)
      .set('Authorization', t.auth)
      .set('Content-Type', 'image/jpeg')
      .send(await photoJpeg(160, 120))
      .expect(201);
    await t.http
      .get(`/storage/thumbnail/${enc(photo)}?format=png`)
      .set('Authorization', t.auth)
      .buffer(true)
      .parse(binaryParser)
      .expect(200);
    const [row] = await thumbRows().find({ where: { storeFullName: storage.name } });
    expect(row).toBeDefined();
    expect(derivedFiles().some((f) => f.startsWith(row.sourceKeyHash))).toBe(true);

    const removeDerivatives = jest.spyOn(t.app.get(ThumbnailService), 'removeDerivatives');
    try {
      clock.advance(61);
      const report = await t.app.get(LifecycleService).sweepExpired({ storage: storage.name });
      expect(report.recordsRemoved).toBe(31);
      expect(report.objectsRemoved).toBe(31);
      expect(report.failed).toBe(0);
      // Only the photo's object had derivatives: the 30 others needed no look of their own.
      expect(removeDerivatives.mock.calls.map(([, hash]) => hash)).toEqual([row.sourceKeyHash]);
    } finally {
      removeDerivatives.mockRestore();
    }
    for (const k of [...plain, photo]) expect(stored(t, k, storage.root)).toBe(false);
    expect(await thumbRows().countBy({ sourceKeyHash: row.sourceKeyHash })).toBe(0);
    expect(derivedFiles().filter((f) => f.startsWith(row.sourceKeyHash))).toEqual([]);
  });
});
