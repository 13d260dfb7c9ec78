import fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { LocalDriver } from './local.driver';
import { READ_CHUNK, UNREAD_CLOSE_MS } from './local-files';

async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The lengths asked of `fs.read` while `work` runs: the read buffers the driver allocates. */
async function readLengths(work: () => Promise<unknown>): Promise<number[]> {
  const spy = jest.spyOn(fs, 'read');
  try {
    await work();
    return spy.mock.calls.map((call) => (call as unknown[])[3] as number);
  } finally {
    spy.mockRestore();
  }
}

/**
 * The read path of the local driver: one open per response (stat from the descriptor, bytes from
 * it), read buffers sized to what is read, and nothing held when the bytes are never read.
 */
describe('LocalDriver.open', () => {
  let root: string;
  let driver: LocalDriver;
  const big = Buffer.alloc(3 * READ_CHUNK + 5, 'x');
  const small = Buffer.from('a'.repeat(4096));

  beforeEach(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'local-open-'));
    driver = new LocalDriver({ root });
    await driver.init();
    await driver.put('dir/small.txt', Readable.from([small]));
    await driver.put('dir/big.bin', Readable.from([big]));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('reads a small file in one read of its own size, not a 1 MiB buffer', async () => {
    let body: Buffer = Buffer.alloc(0);
    const lengths = await readLengths(async () => (body = await bytesOf(await driver.get('dir/small.txt'))));
    expect(body.equals(small)).toBe(true);
    expect(lengths).toEqual([4096]);
  });

  it.each([
    ['a range inside one chunk', { start: 10, end: 19 }, [10]],
    ['a range across chunks', { start: READ_CHUNK - 2, end: READ_CHUNK + 2 }, [5]],
    ['the last byte', { start: big.length - 1, end: big.length - 1 }, [1]],
  ])('reads %s with a buffer of the range', async (_name, range, expected) => {
    let body: Buffer = Buffer.alloc(0);
    const lengths = await readLengths(async () => (body = await bytesOf(await driver.get('dir/big.bin', { range }))));
    expect(body.equals(big.subarray(range.start, range.end + 1))).toBe(true);
    expect(lengths).toEqual(expected);
  });

  it('reads a large file in 1 MiB reads and no read past its end', async () => {
    let body: Buffer = Buffer.alloc(0);
    const lengths = await readLengths(async () => (body = await bytesOf(await driver.get('dir/big.bin'))));
    expect(body.equals(big)).toBe(true);
    expect(lengths).toEqual([READ_CHUNK, READ_CHUNK, READ_CHUNK, 5]);
  });

  it('stats by the open descriptor, in place: one fstatSync, no lstat, stat or thread-pool fstat/readlink', async () => {
    const spies = [
      jest.spyOn(fs, 'fstatSync'),
      jest.spyOn(fs, 'fstat'),
      jest.spyOn(fs, 'readlink'),
      jest.spyOn(fs.promises, 'lstat'),
      jest.spyOn(fs, 'stat'),
    ];
    try {
      const opened = await driver.open('dir/small.txt');
      expect(opened.stat).toMatchObject({ key: 'dir/small.txt', size: 4096 });
      expect((await bytesOf(await opened.stream())).equals(small)).toBe(true);
      expect(spies.map((spy) => spy.mock.calls.length)).toEqual([1, 0, 0, 0, 0]);
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  });

  it('reads a small body in one read of its size, whole or a range, and releases the descriptor', async () => {
    const close = jest.spyOn(fs, 'closeSync');
    try {
      let body: Buffer = Buffer.alloc(0);
      const opened = await driver.open('dir/small.txt');
      expect(await readLengths(async () => (body = await opened.read!()))).toEqual([4096]);
      expect(body.equals(small)).toBe(true);
      expect(close).toHaveBeenCalledTimes(1);
      const ranged = await driver.open('dir/small.txt');
      expect(await readLengths(async () => (body = await ranged.read!({ start: 100, end: 109 })))).toEqual([10]);
      expect(body.equals(small.subarray(100, 110))).toBe(true);
      // Read again after the descriptor went: the key is opened again.
      expect((await ranged.read!({ start: 0, end: 3 })).toString()).toBe('aaaa');
    } finally {
      close.mockRestore();
    }
  });

  it('closes a descriptor that is never streamed, by close() or after a while', async () => {
    const close = jest.spyOn(fs, 'close');
    try {
      const dropped = await driver.open('dir/small.txt');
      dropped.close();
      dropped.close();
      expect(close).toHaveBeenCalledTimes(1);
      jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
      const forgotten = await driver.open('dir/small.txt');
      jest.advanceTimersByTime(UNREAD_CLOSE_MS);
      expect(close).toHaveBeenCalledTimes(2);
      jest.useRealTimers();
      // Streamed after that, the key is opened again.
      expect((await bytesOf(await forgotten.stream())).equals(small)).toBe(true);
    } finally {
      jest.useRealTimers();
      close.mockRestore();
    }
  });

  it('serves an empty file as an empty stream', async () => {
    await driver.put('empty.txt', Readable.from([]));
    const opened = await driver.open('empty.txt');
    expect(opened.stat.size).toBe(0);
    expect((await bytesOf(await opened.stream())).length).toBe(0);
  });

  it('refuses a folder of the path that is a link, and a key that is a folder', async () => {
    fs.mkdirSync(path.join(root, 'real'));
    fs.writeFileSync(path.join(root, 'real', 'f.txt'), 'x');
    fs.symlinkSync(path.join(root, 'real'), path.join(root, 'linked'));
    await expect(driver.open('linked/f.txt')).rejects.toMatchObject({ code: 'E_ACCESS_DENIED' });
    await expect(driver.open('dir')).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    await expect(driver.open('dir/missing.txt')).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  });
});

describe('LocalDriver.put', () => {
  let root: string;
  beforeEach(() => (root = fs.mkdtempSync(path.join(os.tmpdir(), 'local-put-'))));
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('fsyncs the file once, on the descriptor it wrote through, then the folder', async () => {
    const driver = new LocalDriver({ root });
    await driver.init();
    const opens = [jest.spyOn(fs, 'open'), jest.spyOn(fs.promises, 'open')];
    const fsync = jest.spyOn(fs, 'fsync');
    try {
      const stat = await driver.put('a/b.txt', Readable.from([Buffer.from('hello')]));
      expect(stat).toMatchObject({ key: 'a/b.txt', size: 5 });
      const files = opens.flatMap((spy) => spy.mock.calls.map((call) => String((call as unknown[])[0])));
      const tempOpens = files.filter((file) => file.includes('.~tmp.'));
      expect(tempOpens).toHaveLength(1);
      expect(fsync).toHaveBeenCalledTimes(2);
      expect(fs.readFileSync(path.join(root, 'a/b.txt'), 'utf8')).toBe('hello');
    } finally {
      for (const spy of [...opens, fsync]) spy.mockRestore();
    }
  });
});
