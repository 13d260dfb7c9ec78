import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  childServerEnv,
  compileService,
  killChildServers,
  startChildServer,
  type ChildServer,
  type CompiledService,
} from './harness/child-server';
import { isolatedStorage } from './harness/lifecycle';
import { openUpload } from './harness/open-upload';
import { OwnMariaDb } from './harness/peers/mariadb';
import { TOKEN } from './harness/test-app';
import { clientUpload, CountingHttpStack, createTusUpload, tusRequest } from './harness/tus';
import { eventually, md5 } from './harness/util';

const MiB = 1024 * 1024;
const AUTH = `Bearer ${TOKEN}`;

/**
 * Two service processes on one MariaDB database and one backend (a shared local root): an upload
 * begun on one replica continues on the other, from what the first one stored, whether the first
 * one's connection was cut or the process itself was killed mid-PATCH (its lease is taken over).
 */
describe('resumable uploads (tus) across two replicas', () => {
  const storage = isolatedStorage();
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tus-replicas-'));
  let db: OwnMariaDb;
  let service: CompiledService;
  const dataDirs: string[] = [];
  let a: ChildServer;
  let b: ChildServer;

  const start = (name: string) => {
    const { dataDir, env } = childServerEnv(`storage-tus-${name}-`, storage.config, TOKEN, {
      DB_URL: db.url,
      LOG_LEVEL: 'warn',
    });
    dataDirs.push(dataDir);
    return startChildServer(service, { env, logFile: path.join(logDir, `${name}.log`) });
  };

  beforeAll(async () => {
    [db, service] = await Promise.all([OwnMariaDb.start(), compileService()]);
    a = await start('a');
    b = await start('b');
  });
  afterAll(async () => {
    await killChildServers();
    service?.remove();
    await db?.remove();
    for (const dir of [...dataDirs, logDir]) fs.rmSync(dir, { recursive: true, force: true });
    storage.remove();
  });

  const offsetOn = async (server: ChildServer, location: string) =>
    Number((await tusRequest(server.url, 'HEAD', location, { auth: AUTH })).headers['upload-offset']);

  /** A PATCH from offset `from` that sends `bytes` of `data` and is then left hanging. */
  const partialPatch = async (server: ChildServer, location: string, data: Buffer, from: number, bytes: number) => {
    const patch = openUpload(server.url, 'PATCH', location, {
      Authorization: AUTH,
      'Tus-Resumable': '1.0.0',
      'Content-Type': 'application/offset+octet-stream',
      'Upload-Offset': String(from),
      'Content-Length': String(data.length - from),
    });
    for (let at = from; at < from + bytes; at += 256 * 1024) {
      await patch.write(data.subarray(at, Math.min(at + 256 * 1024, from + bytes)));
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    return patch;
  };

  const finishOn = async (server: ChildServer, location: string, data: Buffer) => {
    const stack = new CountingHttpStack();
    const { record } = await clientUpload(`${server.url}/storage/tus`, AUTH, data, {
      uploadUrl: `${server.url}${location}`,
      httpStack: stack,
    });
    return { record, sent: stack.patchBytes };
  };

  const downloadMd5 = async (server: ChildServer, name: string) =>
    md5((await tusRequest(server.url, 'GET', `/storage/files/${name}`, { auth: AUTH })).body);

  it('a PATCH cut on one replica is resumed on the other at the offset the first one stored', async () => {
    const data = randomBytes(6 * MiB);
    const name = `r${randomBytes(3).toString('hex')}/cut.bin`;
    const location = await createTusUpload(a.url, AUTH, data.length, { name });
    const patch = await partialPatch(a, location, data, 0, 2 * MiB);
    await patch.abort();

    expect(await eventually(async () => (await offsetOn(b, location)) === 2 * MiB, 10_000)).toBe(true);
    const { record, sent } = await finishOn(b, location, data);
    expect(sent).toBe(data.length - 2 * MiB);
    expect(record).toMatchObject({ name, size: data.length, md5: md5(data) });
    expect(await downloadMd5(a, name)).toBe(md5(data));
  });

  it('a replica killed mid-PATCH: the other takes its lease over and finishes from the last stored chunk', async () => {
    const data = randomBytes(4 * MiB);
    const name = `r${randomBytes(3).toString('hex')}/killed.bin`;
    const location = await createTusUpload(a.url, AUTH, data.length, { name });
    const first = await tusRequest(a.url, 'PATCH', location, {
      auth: AUTH,
      headers: { 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': '0' },
      body: data.subarray(0, MiB),
    });
    expect(first.status).toBe(204);
    // The second PATCH is in flight when the process dies (its connection goes with it).
    await partialPatch(a, location, data, MiB, MiB);
    await a.kill();

    const startedAt = Date.now();
    expect(await offsetOn(b, location)).toBe(MiB);
    const { record, sent } = await finishOn(b, location, data);
    // The dead replica's lease is taken over at once (its process is gone), not after the lease time.
    expect(Date.now() - startedAt).toBeLessThan(10_000);
    expect(sent).toBe(data.length - MiB);
    expect(record).toMatchObject({ name, size: data.length, md5: md5(data) });
    expect(await downloadMd5(b, name)).toBe(md5(data));
  });
});
