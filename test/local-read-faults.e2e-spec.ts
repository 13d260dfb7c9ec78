import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { childServerEnv, compileService, startChildServer, type ChildServer } from './harness/child-server';
import { isolatedStorage } from './harness/lifecycle';
import { listFiles, TOKEN } from './harness/test-app';

/**
 * A stored object the service cannot read (its file, or its folder, without permissions) is a
 * read failure: 503 "the storage folder could not be read", never 403 "the storage folder is not
 * writable" (what a download answered once). Root reads whatever the permissions say, so the
 * service runs as `nobody` when the tests run as root (a child process; the real service).
 */
describe('a local object the service cannot read', () => {
  const storage = isolatedStorage();
  const prefix = `unread${randomBytes(4).toString('hex')}`;
  const user = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : undefined;
  const READ_FAILED = 'the storage folder could not be read; check the permissions of the storage root';
  let service: Awaited<ReturnType<typeof compileService>> | undefined;
  let dataDir: string;
  let server: ChildServer;

  beforeAll(async () => {
    service = await compileService();
    let env: Record<string, string>;
    ({ dataDir, env } = childServerEnv('storage-unread-', storage.config, TOKEN));
    if (user) {
      fs.chmodSync(service.dir, 0o755);
      for (const dir of [dataDir, storage.root]) fs.chownSync(dir, user.uid, user.gid);
    }
    server = await startChildServer(service, { env, logFile: path.join(dataDir, 'server.log'), user });
  }, 60_000);
  afterAll(async () => {
    await server?.kill();
    service?.remove();
    storage.remove();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const call = (method: string, key: string, body?: string) =>
    fetch(`${server.url}/storage/files/${key}`, { method, body, headers: { Authorization: `Bearer ${TOKEN}` } });

  /** Uploads `key` and returns the file that holds its bytes. */
  async function stored(key: string): Promise<string> {
    expect((await call('PUT', key, 'secret bytes')).status).toBe(201);
    const [file] = listFiles(storage.root).filter((f) => f.startsWith(path.dirname(key)));
    return path.join(storage.root, file);
  }

  it.each([
    ['its file', (file: string) => file],
    ['its folder', (file: string) => path.dirname(file)],
  ])('%s unreadable: a download is 503 naming a read failure', async (name, target) => {
    const key = `${prefix}/${name.replace(' ', '-')}/report.txt`;
    const unreadable = target(await stored(key));
    fs.chmodSync(unreadable, 0);
    try {
      const res = await call('GET', key);
      expect([res.status, await res.json()]).toEqual([
        503,
        { statusCode: 503, code: 'E_BACKEND_UNAVAILABLE', message: READ_FAILED },
      ]);
    } finally {
      fs.chmodSync(unreadable, 0o755);
    }
    expect(await (await call('GET', key)).text()).toBe('secret bytes');
  });
});
