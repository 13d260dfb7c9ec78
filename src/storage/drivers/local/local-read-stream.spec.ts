import fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LocalDriver } from './local.driver';
import { PASSES_WRITE_CALLBACK, READ_CHUNK } from './local-files';

/** What one response sent: its body as the client got it, and the memory of each chunk written. */
interface Served {
  body: Buffer;
  buffers: ArrayBufferLike[];
}

/**
 * Serves `open()`'s stream piped into a real response, its `write` replaced by `wrap` (Node's
 * own when absent), and fetches it. `keep` makes the client stop after that many bytes.
 */
async function serve(
  open: () => Promise<Readable>,
  wrap?: (res: http.ServerResponse, buffers: ArrayBufferLike[]) => void,
  keep = Infinity,
): Promise<Served> {
  const buffers: ArrayBufferLike[] = [];
  const server = http.createServer((_req, res) => {
    void open().then((stream) => {
      wrap?.(res, buffers);
      stream.pipe(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const body = await new Promise<Buffer>((resolve, reject) => {
      http
        .get(`http://127.0.0.1:${port}/`, (res) => {
          const chunks: Buffer[] = [];
          let got = 0;
          res.on('data', (chunk: Buffer) => {
            chunks.push(chunk);
            got += chunk.length;
            if (got >= keep) {
              res.destroy();
              resolve(Buffer.concat(chunks));
            }
          });
          res.on('end', () => resolve(Buffer.concat(chunks)));
          res.on('error', reject);
        })
        .on('error', reject);
    });
    return { body, buffers };
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

/** A counting `res.write` that passes chunk and callback on, marked as the metrics middleware marks its own. */
function countingWrite(res: http.ServerResponse, buffers: ArrayBufferLike[]): void {
  const write = res.write.bind(res) as (...args: unknown[]) => boolean;
  res.write = Object.assign(
    (...args: unknown[]) => {
      buffers.push((args[0] as Buffer).buffer);
      return write(...args);
    },
    { [PASSES_WRITE_CALLBACK]: true },
  ) as http.ServerResponse['write'];
}

/**
 * A `res.write` like compression's: keeps each chunk to send later and drops the callback. Each
 * chunk is sent on the next turn of the loop, after a reused buffer would have been read into again.
 */
function deferringWrite(res: http.ServerResponse, buffers: ArrayBufferLike[]): void {
  const write = res.write.bind(res) as (chunk: Buffer) => boolean;
  const end = res.end.bind(res) as () => void;
  let pending = Promise.resolve();
  res.write = ((chunk: Buffer) => {
    buffers.push(chunk.buffer);
    pending = pending.then(() => new Promise((resolve) => setTimeout(resolve, 5))).then(() => void write(chunk));
    return true;
  }) as http.ServerResponse['write'];
  res.end = (() => void pending.then(end)) as unknown as http.ServerResponse['end'];
}

const distinct = (buffers: ArrayBufferLike[]) => new Set(buffers).size;

/**
 * The local driver's stream piped into a response: two read buffers reused (a fresh 1 MiB buffer
 * per read made large downloads cost GC and page faults), and only where the response's write
 * calls back when the bytes are sent; every other destination gets chunks of their own.
 */
describe('LocalReadStream', () => {
  let root: string;
  let driver: LocalDriver;
  // Every 1 MiB block different, so that a block sent from a reused buffer read too early shows.
  const big = Buffer.concat(
    Array.from({ length: 6 }, (_, i) => Buffer.alloc(READ_CHUNK, i + 1)).concat([Buffer.from('tail')]),
  );

  beforeEach(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'local-read-'));
    driver = new LocalDriver({ root });
    await driver.init();
    await driver.put('big.bin', Readable.from([big]));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('sends a large file to a response through two read buffers, bytes intact', async () => {
    const served = await serve(() => driver.get('big.bin'), countingWrite);
    expect(served.body.equals(big)).toBe(true);
    expect(served.buffers).toHaveLength(7);
    expect(distinct(served.buffers)).toBe(2);
  });

  it('sends a range the same way', async () => {
    const range = { start: READ_CHUNK - 3, end: 4 * READ_CHUNK + 2 };
    const served = await serve(() => driver.get('big.bin', { range }), countingWrite);
    expect(served.body.equals(big.subarray(range.start, range.end + 1))).toBe(true);
    expect(distinct(served.buffers)).toBe(2);
  });

  it('sends through Node’s own res.write too', async () => {
    expect((await serve(() => driver.get('big.bin'))).body.equals(big)).toBe(true);
  });

  it('gives a chunk of its own to a write that keeps chunks past the callback', async () => {
    const served = await serve(() => driver.get('big.bin'), deferringWrite);
    expect(served.body.equals(big)).toBe(true);
    expect(distinct(served.buffers)).toBe(7);
  });

  it('gives chunks of their own to a Transform, and when read as a stream', async () => {
    const seen: Buffer[] = [];
    const through = new PassThrough();
    await Promise.all([
      pipeline(await driver.get('big.bin'), through),
      (async () => {
        for await (const chunk of through) seen.push(chunk as Buffer);
      })(),
    ]);
    expect(Buffer.concat(seen).equals(big)).toBe(true);
    expect(distinct(seen.map((chunk) => chunk.buffer))).toBe(seen.length);
  });

  it('closes the descriptor when the client goes away during the body', async () => {
    const close = jest.spyOn(fs, 'close');
    try {
      const stream = await driver.get('big.bin');
      const closed = new Promise((resolve) => stream.once('close', resolve));
      const served = await serve(async () => stream, countingWrite, READ_CHUNK);
      await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error('still open')), 5000))]);
      expect(served.body.length).toBeLessThan(big.length);
      expect(close).toHaveBeenCalledTimes(1);
    } finally {
      close.mockRestore();
    }
  });
});
