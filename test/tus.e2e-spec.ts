import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { isolatedStorage } from './harness/lifecycle';
import { createTestApp, OTHER_TOKEN, TOKEN, type TestApp } from './harness/test-app';
import { baseUrl, createTusUpload, storageRecord, tusMetadata, tusRequest } from './harness/tus';
import { eventually, md5 } from './harness/util';
import { openUpload } from './harness/open-upload';

const PATCH_TYPE = { 'Content-Type': 'application/offset+octet-stream' };

/** tus 1.0.0 at `/storage/tus`: the core protocol and the creation, termination, expiration and checksum extensions. */
describe('resumable uploads (tus): protocol', () => {
  const storage = isolatedStorage();
  let t: TestApp;
  let base: string;

  beforeAll(async () => {
    t = await createTestApp({
      config: {
        ...storage.config,
        apiTokens: {
          alice: TOKEN,
          bob: OTHER_TOKEN,
          reader: { token: 'tus-reader', scopes: ['read'] },
          scoped: { token: 'tus-scoped', scopes: ['read', 'write'], prefix: 'mine/' },
        },
      },
      env: { MAX_UPLOAD_SIZE: '1048576' },
    });
    base = baseUrl(t);
  });
  afterAll(async () => {
    await t.close();
    storage.remove();
  });

  const download = async (name: string) =>
    (await tusRequest(base, 'GET', `/storage/files/${name}`, { auth: t.auth, headers: { 'Tus-Resumable': '' } })).body;

  it('OPTIONS names the version, extensions, checksum algorithms and size limit, without a token', async () => {
    const res = await tusRequest(base, 'OPTIONS', '/storage/tus');
    expect(res.status).toBe(204);
    expect(res.headers['tus-version']).toBe('1.0.0');
    expect(String(res.headers['tus-extension']).split(',')).toEqual(
      expect.arrayContaining(['creation', 'creation-with-upload', 'termination', 'expiration', 'checksum']),
    );
    expect(String(res.headers['tus-checksum-algorithm']).split(',')).toEqual(expect.arrayContaining(['sha1', 'md5']));
    expect(res.headers['tus-max-size']).toBe('1048576');
  });

  it('creates, reports the offset, appends, and the last PATCH answers the record', async () => {
    const data = randomBytes(3000);
    const name = `${t.prefix}/proto/a.bin`;
    const location = await createTusUpload(base, t.auth, data.length, {
      name,
      filename: 'a.bin',
      filetype: 'application/x-test',
    });
    expect(location).toMatch(/^\/storage\/tus\/[0-9a-f]{32}$/);

    const head = await tusRequest(base, 'HEAD', location, { auth: t.auth });
    expect(head.status).toBe(200);
    expect(head.headers['upload-offset']).toBe('0');
    expect(head.headers['upload-length']).toBe('3000');
    expect(head.headers['cache-control']).toBe('no-store');
    expect(head.headers['upload-metadata']).toContain(`name ${Buffer.from(name).toString('base64')}`);

    const first = await tusRequest(base, 'PATCH', location, {
      auth: t.auth,
      headers: { ...PATCH_TYPE, 'Upload-Offset': '0' },
      body: data.subarray(0, 1000),
    });
    expect(first.status).toBe(204);
    expect(first.headers['upload-offset']).toBe('1000');
    expect(first.headers['upload-expires']).toBeDefined();
    expect(storageRecord(first)).toBeNull();
    expect((await tusRequest(base, 'GET', location, { auth: t.auth })).status).toBe(409);

    const last = await tusRequest(base, 'PATCH', location, {
      auth: t.auth,
      headers: { ...PATCH_TYPE, 'Upload-Offset': '1000' },
      body: data.subarray(1000),
    });
    expect(last.status).toBe(204);
    expect(last.headers['upload-offset']).toBe('3000');
    const record = storageRecord(last);
    expect(record).toMatchObject({ name, size: 3000, md5: md5(data), type: 'application/x-test', fileName: 'a.bin' });
    const got = await tusRequest(base, 'GET', location, { auth: t.auth });
    expect(got.status).toBe(200);
    expect(JSON.parse(got.body.toString())).toEqual(record);
    const headAfter = await tusRequest(base, 'HEAD', location, { auth: t.auth });
    expect(headAfter.headers['upload-offset']).toBe('3000');
    expect(storageRecord(headAfter)).toEqual(record);
    expect(md5(await download(name))).toBe(md5(data));
    // The chunks are gone from the backend once the record is made.
    expect(fs.existsSync(`${storage.root}/.uploads/tus/${location.split('/').pop()}`)).toBe(false);
  });

  it('creation-with-upload: the POST body is the first bytes (here all of them)', async () => {
    const data = Buffer.from('all at once');
    const name = `${t.prefix}/proto/once.txt`;
    const res = await tusRequest(base, 'POST', '/storage/tus', {
      auth: t.auth,
      headers: {
        ...PATCH_TYPE,
        'Upload-Length': String(data.length),
        'Upload-Metadata': tusMetadata({ name, filetype: 'text/plain' }),
      },
      body: data,
    });
    expect(res.status).toBe(201);
    expect(res.headers['upload-offset']).toBe(String(data.length));
    expect(storageRecord(res)).toMatchObject({ name, size: data.length });
    expect((await download(name)).toString()).toBe('all at once');
  });

  it('refuses a PATCH at the wrong offset (409) and of the wrong type (415), changing nothing', async () => {
    const location = await createTusUpload(base, t.auth, 10, { name: `${t.prefix}/proto/b.bin` });
    const wrongOffset = await tusRequest(base, 'PATCH', location, {
      auth: t.auth,
      headers: { ...PATCH_TYPE, 'Upload-Offset': '5' },
      body: Buffer.alloc(5),
    });
    expect(wrongOffset.status).toBe(409);
    const wrongType = await tusRequest(base, 'PATCH', location, {
      auth: t.auth,
      headers: { 'Content-Type': 'application/json', 'Upload-Offset': '0' },
      body: Buffer.from('{"a":1}'),
    });
    expect(wrongType.status).toBe(415);
    expect(wrongType.headers['tus-resumable']).toBe('1.0.0');
    expect(JSON.parse(wrongType.body.toString()).code).toBe('E_UNSUPPORTED_MEDIA_TYPE');
    expect((await tusRequest(base, 'HEAD', location, { auth: t.auth })).headers['upload-offset']).toBe('0');
  });

  it('checksum: a matching sha1 or md5 appends, a mismatch is 460 and appends nothing, an unknown algorithm 400', async () => {
    const data = Buffer.from('checksummed bytes');
    const location = await createTusUpload(base, t.auth, data.length * 2, { name: `${t.prefix}/proto/c.bin` });
    const patch = (offset: number, checksum: string) =>
      tusRequest(base, 'PATCH', location, {
        auth: t.auth,
        headers: { ...PATCH_TYPE, 'Upload-Offset': String(offset), 'Upload-Checksum': checksum },
        body: data,
      });
    const digest = (algorithm: string, bytes: Buffer) => createHash(algorithm).update(bytes).digest('base64');

    const mismatch = await patch(0, `sha1 ${digest('sha1', Buffer.from('other bytes'))}`);
    expect(mismatch.status).toBe(460);
    expect((await tusRequest(base, 'HEAD', location, { auth: t.auth })).headers['upload-offset']).toBe('0');
    expect((await patch(0, `crc32 AAAAAA==`)).status).toBe(400);

    const ok = await patch(0, `sha1 ${digest('sha1', data)}`);
    expect(ok.status).toBe(204);
    expect(ok.headers['upload-offset']).toBe(String(data.length));
    const okMd5 = await patch(data.length, `md5 ${digest('md5', data)}`);
    expect(okMd5.status).toBe(204);
    expect(storageRecord(okMd5)).toMatchObject({ size: data.length * 2 });
  });

  it('termination: DELETE removes the upload and its staged bytes; then 404', async () => {
    const location = await createTusUpload(base, t.auth, 100, { name: `${t.prefix}/proto/d.bin` });
    await tusRequest(base, 'PATCH', location, {
      auth: t.auth,
      headers: { ...PATCH_TYPE, 'Upload-Offset': '0' },
      body: Buffer.alloc(40, 1),
    });
    const id = location.split('/').pop();
    expect(fs.readdirSync(`${storage.root}/.uploads/tus/${id}`)).toHaveLength(1);
    expect((await tusRequest(base, 'DELETE', location, { auth: t.auth })).status).toBe(204);
    expect(
      fs.existsSync(`${storage.root}/.uploads/tus/${id}`) &&
        fs.readdirSync(`${storage.root}/.uploads/tus/${id}`).length,
    ).toBeFalsy();
    expect((await tusRequest(base, 'HEAD', location, { auth: t.auth })).status).toBe(404);
  });

  it('refuses at creation, before any byte: no token, no write scope, another prefix, over the size limit, a bad md5', async () => {
    const create = (auth: string | undefined, length: number, metadata: Record<string, string>) =>
      tusRequest(base, 'POST', '/storage/tus', {
        auth,
        headers: { 'Upload-Length': String(length), 'Upload-Metadata': tusMetadata(metadata) },
      });
    const name = `${t.prefix}/proto/refused.bin`;
    const noToken = await create(undefined, 10, { name });
    expect(noToken.status).toBe(401);
    const reader = await create('Bearer tus-reader', 10, { name });
    expect(reader.status).toBe(403);
    expect(JSON.parse(reader.body.toString()).code).toBe('E_FORBIDDEN');
    const elsewhere = await create('Bearer tus-scoped', 10, { name });
    expect(elsewhere.status).toBe(403);
    expect(JSON.parse(elsewhere.body.toString()).message).toContain("'mine/'");
    expect((await create('Bearer tus-scoped', 10, { name: 'mine/ok.bin' })).status).toBe(201);
    const tooLarge = await create(t.auth, 1048577, { name });
    expect(tooLarge.status).toBe(413);
    expect(JSON.parse(tooLarge.body.toString()).code).toBe('E_TOO_LARGE');
    const badMd5 = await create(t.auth, 10, { name, md5: 'xyz' });
    expect(badMd5.status).toBe(400);
    const reserved = await create(t.auth, 10, { name: '.thumbnails/x.png' });
    expect(reserved.status).toBe(400);
    expect(JSON.parse(reserved.body.toString()).code).toBe('E_INVALID_PATH');
    const unknown = await create(t.auth, 10, { name, storage: 'storages.Nope' });
    expect(JSON.parse(unknown.body.toString()).code).toBe('E_UNKNOWN_STORAGE');
  });

  it("an upload is its creator's: another user may not read, continue or end it", async () => {
    const location = await createTusUpload(base, t.auth, 10, { name: `${t.prefix}/proto/mine.bin` });
    const bob = `Bearer ${OTHER_TOKEN}`;
    expect((await tusRequest(base, 'HEAD', location, { auth: bob })).status).toBe(403);
    const patch = await tusRequest(base, 'PATCH', location, {
      auth: bob,
      headers: { ...PATCH_TYPE, 'Upload-Offset': '0' },
      body: Buffer.alloc(10),
    });
    expect(patch.status).toBe(403);
    expect((await tusRequest(base, 'DELETE', location, { auth: bob })).status).toBe(403);
    expect((await tusRequest(base, 'GET', location, { auth: bob })).status).toBe(403);
    expect((await tusRequest(base, 'HEAD', location, { auth: t.auth })).headers['upload-offset']).toBe('0');
  });

  it('md5 metadata: stored content-addressed, deduplicated with an existing upload, and checked', async () => {
    const data = randomBytes(2048);
    const hash = md5(data);
    const plain = await t.http
      .put(`/storage/files/${t.prefix}/dedup/first.bin?md5=${hash}`)
      .set('Authorization', t.auth)
      .set('Content-Type', 'application/octet-stream')
      .send(data);
    expect(plain.status).toBe(201);
    const location = await createTusUpload(base, t.auth, data.length, {
      name: `${t.prefix}/dedup/second.bin`,
      md5: hash,
    });
    const done = await tusRequest(base, 'PATCH', location, {
      auth: t.auth,
      headers: { ...PATCH_TYPE, 'Upload-Offset': '0' },
      body: data,
    });
    expect(done.status).toBe(204);
    const record = storageRecord(done);
    expect(record).toMatchObject({ name: `${hash}.bin`, md5: hash, size: data.length });
    expect(record?.id).not.toBe(plain.body.id);

    const wrong = await createTusUpload(base, t.auth, data.length, {
      name: `${t.prefix}/dedup/wrong.bin`,
      md5: md5('x'),
    });
    const refused = await tusRequest(base, 'PATCH', wrong, {
      auth: t.auth,
      headers: { ...PATCH_TYPE, 'Upload-Offset': '0' },
      body: data,
    });
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.body.toString()).code).toBe('E_MD5_MISMATCH');
    // A refused upload can never pass: it is ended.
    expect((await tusRequest(base, 'HEAD', wrong, { auth: t.auth })).status).toBe(404);
  });
});

/**
 * A completion that fails for a reason that passes (here the per-user cap of uploads in flight,
 * a real 429) keeps the finished upload; `GET {prefix}/tus/{id}` makes the record later.
 */
describe('resumable uploads (tus): a completion that fails for a passing reason', () => {
  const storage = isolatedStorage();
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ config: storage.config, env: { MAX_CONCURRENT_UPLOADS_PER_USER: '1' } });
  });
  afterAll(async () => {
    await t.close();
    storage.remove();
  });

  it('keeps the upload on a 429 and records it on GET once the cap allows', async () => {
    const base = baseUrl(t);
    const data = randomBytes(5000);
    const name = `${t.prefix}/capped/late.bin`;
    const location = await createTusUpload(base, t.auth, data.length, { name });
    const busy = openUpload(base, 'PUT', `/storage/files/${t.prefix}/capped/busy.bin`, {
      Authorization: t.auth,
      'Content-Type': 'application/octet-stream',
    });
    await busy.write(Buffer.alloc(1000));
    expect(
      await eventually(async () => (await t.http.get('/metrics')).text.includes('storage_uploads_in_flight 1')),
    ).toBe(true);
    const last = await tusRequest(base, 'PATCH', location, {
      auth: t.auth,
      headers: { ...PATCH_TYPE, 'Upload-Offset': '0' },
      body: data,
    });
    expect(last.status).toBe(429);
    expect(JSON.parse(last.body.toString()).code).toBe('E_TOO_MANY_REQUESTS');
    const head = await tusRequest(base, 'HEAD', location, { auth: t.auth });
    expect(head.status).toBe(200);
    expect(head.headers['upload-offset']).toBe(String(data.length));

    expect((await busy.finish(Buffer.alloc(10))).status).toBe(201);
    const got = await tusRequest(base, 'GET', location, { auth: t.auth });
    expect(got.status).toBe(200);
    expect(JSON.parse(got.body.toString())).toMatchObject({ name, size: data.length, md5: md5(data) });
  });
});

/** A PATCH whose body stalls is cut after the idle timeout; what arrived is kept and the upload freed. */
describe('resumable uploads (tus): a stalled PATCH', () => {
  const storage = isolatedStorage();
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ config: storage.config, env: { UPLOAD_IDLE_TIMEOUT_SECONDS: '1' } });
  });
  afterAll(async () => {
    await t.close();
    storage.remove();
  });

  it('is cut after UPLOAD_IDLE_TIMEOUT_SECONDS, keeping what arrived', async () => {
    const base = baseUrl(t);
    const location = await createTusUpload(base, t.auth, 100_000, { name: `${t.prefix}/stalled.bin` });
    const req = http.request(`${base}${location}`, {
      method: 'PATCH',
      agent: false,
      headers: {
        Authorization: t.auth,
        'Tus-Resumable': '1.0.0',
        'Content-Type': 'application/offset+octet-stream',
        'Upload-Offset': '0',
        'Content-Length': '100000',
      },
    });
    let closed = false;
    req.on('error', () => undefined);
    req.on('close', () => (closed = true));
    await new Promise<void>((resolve) => req.write(Buffer.alloc(30_000, 3), () => resolve()));
    // Nothing more is sent: the service ends the request by itself, without another request asking.
    expect(await eventually(() => closed, 5_000)).toBe(true);
    const head = await tusRequest(base, 'HEAD', location, { auth: t.auth });
    expect(head.headers['upload-offset']).toBe('30000');
  });
});
