import fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { LocalDriver } from './local.driver';

/** Every asynchronous call of `node:fs` (callbacks and promises): one thread-pool trip each. */
function asyncFsCalls(): { names(): string[]; restore(): void } {
  const spies: { name: string; spy: jest.SpyInstance }[] = [];
  for (const [api, prefix] of [
    [fs as unknown as Record<string, unknown>, ''],
    [fs.promises as unknown as Record<string, unknown>, 'promises.'],
  ] as const) {
    for (const name of Object.keys(api)) {
      const isCall =
        typeof api[name] === 'function' && /^[a-z]/.test(name) && !/Sync$|^create|^watch|^unwatch/.test(name);
      if (isCall) spies.push({ name: prefix + name, spy: jest.spyOn(api as Record<string, () => unknown>, name) });
    }
  }
  return {
    names: () => spies.flatMap(({ name, spy }) => spy.mock.calls.map(() => name)).sort(),
    restore: () => spies.forEach(({ spy }) => spy.mockRestore()),
  };
}

/**
 * The write path of the local driver for a small upload into an existing folder: as few trips to
 * the thread pool as the guarantees allow (open the folder, create the temp file, check the key is
 * not a link, write, fsync, rename, fsync the folder), and no exception made on a normal finish.
 */
describe('LocalDriver.put, small uploads', () => {
  let root: string;
  let driver: LocalDriver;
  const body = () => Readable.from([Buffer.alloc(4096, 'x')]);

  beforeEach(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'local-put-'));
    driver = new LocalDriver({ root });
    await driver.init();
    await driver.put('bench/up/first.bin', body());
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('makes seven thread-pool trips, none of them a folder walk, mkdir or extra open', async () => {
    const calls = asyncFsCalls();
    try {
      await driver.put('bench/up/second.bin', body(), { signal: new AbortController().signal });
      expect(calls.names()).toEqual(['fsync', 'fsync', 'lstat', 'open', 'open', 'rename', 'writev']);
    } finally {
      calls.restore();
    }
    expect(fs.readFileSync(path.join(root, 'bench/up/second.bin')).length).toBe(4096);
    expect(fs.readdirSync(path.join(root, 'bench/up')).sort()).toEqual(['first.bin', 'second.bin']);
  });

  it('makes the missing folders, once, checking the way there first', async () => {
    const calls = asyncFsCalls();
    try {
      await driver.put('bench/new/deeper/file.bin', body());
      const names = calls.names();
      expect(names.filter((name) => name.endsWith('mkdir'))).toHaveLength(1);
      expect(names.filter((name) => name.endsWith('lstat')).length).toBeGreaterThanOrEqual(2);
    } finally {
      calls.restore();
    }
    expect(fs.readFileSync(path.join(root, 'bench/new/deeper/file.bin')).length).toBe(4096);
  });

  it('aborts nothing, so makes no AbortError, when an upload with a signal ends normally', async () => {
    const aborts = jest.spyOn(AbortController.prototype, 'abort');
    const listeners = jest.spyOn(AbortSignal.prototype, 'addEventListener');
    try {
      const signal = new AbortController().signal;
      await driver.put('bench/up/third.bin', body(), { signal });
      expect(aborts).not.toHaveBeenCalled();
      expect(listeners).toHaveBeenCalledTimes(1);
    } finally {
      aborts.mockRestore();
      listeners.mockRestore();
    }
  });
});

describe('LocalDriver.put, failures', () => {
  let root: string;
  let outside: string;
  let driver: LocalDriver;

  beforeEach(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'local-put-'));
    outside = fs.mkdtempSync(path.join(os.tmpdir(), 'local-put-outside-'));
    driver = new LocalDriver({ root });
    await driver.init();
  });
  afterEach(() => {
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(outside, { recursive: true, force: true });
  });

  it('stops an upload whose signal fires mid-body: E_ABORTED, no temp file, the descriptors closed', async () => {
    const controller = new AbortController();
    const body = new Readable({ read: () => undefined });
    body.push(Buffer.alloc(1000, 'x'));
    const before = fs.readdirSync('/proc/self/fd').length;
    const put = driver.put('a/b.bin', body, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('the client went away')), 30);
    await expect(put).rejects.toMatchObject({ code: 'E_ABORTED', message: 'the upload was aborted' });
    expect(body.destroyed).toBe(true);
    expect(fs.readdirSync(path.join(root, 'a'))).toEqual([]);
    expect(fs.readdirSync('/proc/self/fd').length).toBe(before);
  });

  it('removes the temp file when the body fails', async () => {
    const body = new Readable({ read: () => undefined });
    body.push(Buffer.alloc(1000, 'x'));
    setTimeout(() => body.destroy(new Error('cut')), 30);
    await expect(driver.put('a/b.bin', body)).rejects.toMatchObject({ code: 'E_INTERNAL' });
    expect(fs.readdirSync(path.join(root, 'a'))).toEqual([]);
  });

  it('rejects with the error of a body that fails before the temp file is made, and throws nothing', async () => {
    const body = new Readable({ read: () => undefined });
    const put = driver.put('a/fresh/b.bin', body);
    // Emitted on the next tick, while the folder is still being made: nothing else listens yet.
    body.destroy(new Error('cut early'));
    await expect(put).rejects.toMatchObject({ code: 'E_INTERNAL' });
    expect(fs.readdirSync(path.join(root, 'a', 'fresh'))).toEqual([]);
  });

  it('refuses a folder reached through a link, before creating anything behind it', async () => {
    fs.mkdirSync(path.join(outside, 'sub'));
    fs.symlinkSync(outside, path.join(root, 'link'));
    const open = jest.spyOn(fs, 'open');
    try {
      const put = driver.put('link/sub/x.bin', Readable.from([Buffer.from('x')]));
      await expect(put).rejects.toMatchObject({ code: 'E_ACCESS_DENIED' });
      expect(open.mock.calls.filter((call) => String(call[0]).includes('.~tmp.'))).toEqual([]);
    } finally {
      open.mockRestore();
    }
    await expect(driver.put('link/new/x.bin', Readable.from([Buffer.from('x')]))).rejects.toMatchObject({
      code: 'E_ACCESS_DENIED',
    });
    expect(fs.readdirSync(outside)).toEqual(['sub']);
    expect(fs.readdirSync(path.join(outside, 'sub'))).toEqual([]);
  });
});
