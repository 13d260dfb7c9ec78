import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { StorageRegistry } from '../src/storage/registry/storage-registry';
import { isolatedStorage } from './harness/lifecycle';
import { openUpload } from './harness/open-upload';
import { s3Instance } from './harness/peers/instances';
import { startS3rver, type S3Peer } from './harness/peers/s3rver';
import { createTestApp, type TestApp } from './harness/test-app';
import { baseUrl, clientUpload, CountingHttpStack, createTusUpload, tusRequest } from './harness/tus';
import { eventually, md5 } from './harness/util';

const MiB = 1024 * 1024;

/**
 * tus-js-client (the client the browser module uses) against `/storage/tus`, on local disk and on
 * S3 (s3rver), and a PATCH cut mid-body resumed from the offset the server reports.
 */
describe('resumable uploads (tus) with tus-js-client', () => {
  const storage = isolatedStorage();
  let s3: S3Peer;
  let t: TestApp;
  let base: string;

  beforeAll(async () => {
    s3 = await startS3rver(['tus-s3']);
    t = await createTestApp({
      config: {
        ...storage.config,
        storages: { ...(storage.config.storages as object), 'storages.S3': s3Instance(s3, 'tus-s3') },
      },
    });
    base = baseUrl(t);
  });
  afterAll(async () => {
    await t.close();
    await s3.close();
    storage.remove();
  });

  const downloaded = async (name: string, instance: string) =>
    md5((await tusRequest(base, 'GET', `/storage/files/${name}?storage=${instance}`, { auth: t.auth })).body);

  const staged = async (instance: string) => {
    const keys: string[] = [];
    for await (const o of t.app.get(StorageRegistry).get(instance).driver.list('.uploads/tus/')) keys.push(o.key);
    return keys;
  };

  it('uploads to local disk; the last response carries the record', async () => {
    const data = randomBytes(5 * MiB);
    const name = `${t.prefix}/client/local.bin`;
    const { record, url } = await clientUpload(`${base}/storage/tus`, t.auth, data, {
      metadata: { name, filename: 'local.bin', filetype: 'application/octet-stream' },
    });
    expect(record).toMatchObject({ name, size: data.length, md5: md5(data), storeFullName: storage.name });
    expect(url).toMatch(/\/storage\/tus\/[0-9a-f]{32}$/);
    expect(await downloaded(name, storage.name)).toBe(md5(data));
    expect(await staged(storage.name)).toEqual([]);
    // Resuming the finished upload (only a HEAD is sent) gives the record too.
    const again = await clientUpload(`${base}/storage/tus`, t.auth, data, { uploadUrl: url });
    expect(again.record).toEqual(record);
  });

  it('uploads to S3 in several PATCHes (one staged chunk each), then leaves nothing staged', async () => {
    const data = randomBytes(6 * MiB + 123);
    const name = `${t.prefix}/client/s3.bin`;
    const { record } = await clientUpload(`${base}/storage/tus`, t.auth, data, {
      chunkSize: 2 * MiB,
      metadata: { name, filename: 's3.bin', storage: 'storages.S3' },
    });
    expect(record).toMatchObject({ name, size: data.length, md5: md5(data), storeFullName: 'storages.S3' });
    expect(await downloaded(name, 'storages.S3')).toBe(md5(data));
    expect(await staged('storages.S3')).toEqual([]);
  });

  it('keeps what arrived before a cut, and the client resumes there without resending it', async () => {
    const data = randomBytes(8 * MiB);
    const name = `${t.prefix}/client/cut.bin`;
    const location = await createTusUpload(base, t.auth, data.length, { name });
    const patch = openUpload(base, 'PATCH', location, {
      Authorization: t.auth,
      'Tus-Resumable': '1.0.0',
      'Content-Type': 'application/offset+octet-stream',
      'Upload-Offset': '0',
      'Content-Length': String(data.length),
    });
    const sent = 3 * MiB;
    for (let at = 0; at < sent; at += 256 * 1024) await patch.write(data.subarray(at, at + 256 * 1024));
    // Let the bytes reach the service before the connection drops.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await patch.abort();

    const offset = async () =>
      Number((await tusRequest(base, 'HEAD', location, { auth: t.auth })).headers['upload-offset']);
    expect(await eventually(async () => (await offset()) === sent, 10_000)).toBe(true);

    const stack = new CountingHttpStack();
    const { record } = await clientUpload(`${base}/storage/tus`, t.auth, data, {
      uploadUrl: `${base}${location}`,
      httpStack: stack,
    });
    expect(stack.patchBytes).toBe(data.length - sent);
    expect(record).toMatchObject({ name, size: data.length, md5: md5(data) });
    expect(await downloaded(name, storage.name)).toBe(md5(data));
    expect(
      fs.existsSync(`${storage.root}/.uploads/tus/${location.split('/').pop()}`)
        ? fs.readdirSync(`${storage.root}/.uploads/tus/${location.split('/').pop()}`)
        : [],
    ).toEqual([]);
  });
});
