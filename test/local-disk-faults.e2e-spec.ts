import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { LocalDriver } from '../src/storage/drivers/local/local.driver';
import { StorageErrorCode } from '../src/storage/errors/storage.error';
import { compileService, type CompiledService } from './harness/child-server';
import { keyState } from './harness/lifecycle';
import { rawRequest } from './harness/raw-http';
import { createTestApp, listFiles, type TestApp } from './harness/test-app';
import { enc } from './harness/util';

/**
 * The local driver against a real disk: a full one (a 1 MiB tmpfs, mounted for the test: it
 * needs root, and is skipped, visibly, where it cannot be mounted), and its fsyncs, watched with
 * strace (skipped where strace is missing or ptrace is not allowed). Neither is faked.
 */

/** A 1 MiB tmpfs at a fresh folder, or the reason there is none. */
function mountSmallTmpfs(): { dir: string; unmount(): void } | string {
  if (process.platform !== 'linux') return 'tmpfs is Linux only';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'storage-full-'));
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { encoding: 'utf8' });
  if (mounted.status !== 0) {
    fs.rmdirSync(dir);
    return `cannot mount a tmpfs (${(mounted.stderr || mounted.error?.message || '').trim()}); run as root`;
  }
  return {
    dir,
    unmount: () => {
      execFileSync('umount', [dir]);
      fs.rmdirSync(dir);
    },
  };
}

const tmpfs = mountSmallTmpfs();
const onFullDisk = typeof tmpfs === 'string' ? describe.skip : describe;
if (typeof tmpfs === 'string') console.warn(`disk-full tests skipped: ${tmpfs}`);

onFullDisk('a full local disk (real tmpfs of 1 MiB)', () => {
  const mount = tmpfs as { dir: string; unmount(): void };
  const FULL = 'storages.Full';
  const root = path.join(mount.dir, 'files');
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ config: { storages: { [FULL]: { type: 'storages.LocalType', root } } } });
  });
  afterAll(async () => {
    await t?.close();
    mount.unmount();
  });

  it('the driver maps ENOSPC to E_INSUFFICIENT_STORAGE and leaves no temp file', async () => {
    const driver = new LocalDriver({ root: path.join(mount.dir, 'direct') });
    await driver.init();
    const put = driver.put('big.bin', Readable.from([Buffer.alloc(2 * 1024 * 1024, 1)]));
    await expect(put).rejects.toMatchObject({
      code: StorageErrorCode.INSUFFICIENT_STORAGE,
      message: 'the storage disk is full',
    });
    expect(fs.readdirSync(path.join(mount.dir, 'direct'))).toEqual([]);
  });

  it('an upload that fills the disk is a 507 naming the cause, leaves nothing, and the space is free again', async () => {
    const k = `${t.prefix}/full/big.bin`;
    const url = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}/storage/files/${enc(k)}?storage=${FULL}`;
    // 1.25 MiB: past the disk's size, and within what the service drains to deliver its answer.
    const res = await rawRequest(url, {
      method: 'PUT',
      headers: { Authorization: t.auth, 'Content-Type': 'application/octet-stream' },
      body: Buffer.alloc(1280 * 1024, 7),
    });
    expect(res.status).toBe(507);
    const body = JSON.parse(res.body.toString());
    expect(body).toEqual({ statusCode: 507, code: 'E_INSUFFICIENT_STORAGE', message: 'the storage disk is full' });
    expect(res.body.toString()).not.toContain(mount.dir);
    expect(listFiles(root)).toEqual([]);
    expect(await keyState(t, k, FULL)).toEqual({ records: [], row: null, pins: 0 });

    const small = await t.http
      .put(`/storage/files/${enc(k)}?storage=${FULL}`)
      .set('Authorization', t.auth)
      .send(Buffer.alloc(256 * 1024, 8));
    expect(small.status).toBe(201);
  });
});

function straceUsable(): string | null {
  const probe = spawnSync('strace', ['-f', '-qq', '-e', 'trace=fsync', 'true'], { encoding: 'utf8' });
  if (probe.error) return `strace is not installed (${probe.error.message})`;
  return probe.status === 0 ? null : `strace cannot trace here: ${probe.stderr.trim()}`;
}

const noStrace = straceUsable();
const withStrace = noStrace ? describe.skip : describe;
if (noStrace) console.warn(`fsync tests skipped: ${noStrace}`);

withStrace('the local driver syncs before it acknowledges (observed with strace)', () => {
  let build: CompiledService;
  let work: string;

  beforeAll(async () => {
    build = await compileService();
    work = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'storage-fsync-')));
  });
  afterAll(() => {
    build?.remove();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('fsyncs the temp file, renames it over the key, fsyncs the folder, and only then resolves put', () => {
    const root = path.join(work, 'root');
    const script = path.join(work, 'put.js');
    fs.writeFileSync(
      script,
      `const { LocalDriver } = require(${JSON.stringify(path.join(build.dir, 'storage/drivers/local/local.driver.js'))});
       const { Readable } = require('node:stream');
       const fs = require('node:fs');
       (async () => {
         const driver = new LocalDriver({ root: ${JSON.stringify(root)} });
         await driver.init();
         await driver.put('a/b/file.bin', Readable.from([Buffer.alloc(300000, 1)]));
         fs.writeSync(1, 'ACKNOWLEDGED\\n');
       })();`,
    );
    const trace = path.join(work, 'trace.txt');
    const run = spawnSync(
      'strace',
      [
        '-f',
        '-qq',
        '-y',
        '-o',
        trace,
        '-e',
        'trace=openat,fsync,fdatasync,rename,renameat,renameat2,write',
        'node',
        script,
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect(run.stdout).toBe('ACKNOWLEDGED\n');
    const calls = completedCalls(fs.readFileSync(trace, 'utf8'));

    const folder = path.join(root, 'a', 'b');
    const target = path.join(folder, 'file.bin');
    const created = calls.findIndex((c) => c.name === 'openat' && /\.~tmp\.[\w.-]+", O_[A-Z_|]*O_EXCL/.test(c.text));
    expect(created).toBeGreaterThanOrEqual(0);
    const temp = /"([^"]+\.~tmp\.[\w.-]+)"/.exec(calls[created].text)![1];
    expect(path.dirname(temp)).toBe(folder);
    const at = (test: (c: Call, i: number) => boolean) => calls.findIndex((c, i) => i > created && test(c, i));
    const syncedFile = at((c) => /^f(data)?sync$/.test(c.name) && c.text.includes(`<${temp}>`) && c.result === '0');
    const renamed = at(
      (c) => c.name.startsWith('rename') && c.text.includes(`"${temp}"`) && c.text.includes(`"${target}"`),
    );
    const syncedFolder = at((c, i) => i > renamed && /^f(data)?sync$/.test(c.name) && c.text.includes(`<${folder}>`));
    const acknowledged = at((c) => c.name === 'write' && c.text.includes('ACKNOWLEDGED'));
    const order = { syncedFile, renamed, syncedFolder, acknowledged };
    expect(Object.values(order).every((i) => i > created)).toBe(true);
    expect([syncedFile < renamed, renamed < syncedFolder, syncedFolder < acknowledged]).toEqual([true, true, true]);
    // One open of the temp file, and one fsync of it, on the descriptor it was written through.
    const tempOpens = calls.filter((c) => c.name === 'openat' && c.text.includes(`"${temp}"`)).length;
    const fileSyncs = calls.filter((c) => /^f(data)?sync$/.test(c.name) && c.text.includes(`<${temp}>`)).length;
    expect({ tempOpens, fileSyncs }).toEqual({ tempOpens: 1, fileSyncs: 1 });
  });
});

interface Call {
  name: string;
  text: string;
  result: string;
}

/**
 * The system calls of an `strace -f -o` log in the order they completed: a call another thread
 * interrupted (`<unfinished ...>`) is joined with its `<... name resumed>` line.
 */
function completedCalls(log: string): Call[] {
  const pending = new Map<string, string>();
  const calls: Call[] = [];
  for (const line of log.split('\n')) {
    const match = /^(\d+)\s+(.*)$/.exec(line);
    if (!match) continue;
    const [, pid, rest] = match;
    if (rest.endsWith('<unfinished ...>')) {
      pending.set(pid, rest.slice(0, -'<unfinished ...>'.length));
      continue;
    }
    const resumed = /^<\.\.\. \w+ resumed>(.*)$/.exec(rest);
    const text = resumed ? `${pending.get(pid) ?? ''}${resumed[1]}` : rest;
    if (resumed) pending.delete(pid);
    const call = /^(\w+)\((.*)\)\s+=\s+(-?\w+)/.exec(text);
    if (call) calls.push({ name: call[1], text: call[2], result: call[3] });
  }
  return calls;
}
