import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StorageErrorCode } from '../errors/storage.error';
import { HashingStream, type HashingStreamOptions } from './hashing-stream';

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

/** Runs `data` through a HashingStream into a sink; reports whether the sink saw a clean end. */
async function run(data: Buffer, options: HashingStreamOptions) {
  const hasher = new HashingStream(options);
  let ended = false;
  let received = 0;
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      received += chunk.length;
      cb();
    },
    final(cb) {
      ended = true;
      cb();
    },
  });
  const chunks = [];
  const step = Math.max(1000, Math.ceil(data.length / 64));
  for (let i = 0; i < data.length; i += step) chunks.push(data.subarray(i, i + step));
  const error = await pipeline(Readable.from(chunks), hasher, sink).then(
    () => undefined,
    (err) => err,
  );
  return { hasher, ended, received, error };
}

describe('HashingStream', () => {
  const data = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));

  it('passes bytes through and reports md5 and size', async () => {
    const { hasher, ended, received, error } = await run(data, {});
    expect(error).toBeUndefined();
    expect(ended).toBe(true);
    expect(received).toBe(data.length);
    expect(hasher.md5).toBe(md5(data));
    expect(hasher.bytes).toBe(data.length);
  });

  it('fails before the end on an md5 mismatch, so the consumer never commits', async () => {
    const { ended, error } = await run(data, { expectedMd5: md5(Buffer.from('other')) });
    expect(error).toMatchObject({ code: StorageErrorCode.MD5_MISMATCH });
    expect(ended).toBe(false);
  });

  it('fails as soon as the size limit is passed', async () => {
    const { ended, received, error } = await run(data, { maxBytes: 2500 });
    expect(error).toMatchObject({ code: StorageErrorCode.TOO_LARGE });
    expect(ended).toBe(false);
    expect(received).toBeLessThanOrEqual(2500);
  });

  it('accepts exactly the limit and the right md5', async () => {
    const { error } = await run(data, { maxBytes: data.length, expectedMd5: md5(data), expectedSize: data.length });
    expect(error).toBeUndefined();
  });

  it('fails when fewer or more bytes arrive than declared', async () => {
    expect((await run(data, { expectedSize: data.length + 1 })).error).toMatchObject({
      code: StorageErrorCode.INVALID_ARGUMENT,
    });
    expect((await run(data, { expectedSize: data.length - 1 })).ended).toBe(false);
  });

  it('hashes a large body of unknown size on a worker, chunk order kept, with bounded queueing', async () => {
    const big = Buffer.alloc(24 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE(i, i);
    const { hasher, error, received } = await run(big, {});
    expect(error).toBeUndefined();
    expect(received).toBe(big.length);
    expect(hasher.md5).toBe(md5(big));
  });

  it('gives the same digest inline (small declared size) and on the worker', async () => {
    const small = Buffer.from('the same bytes either way');
    const inline = await run(small, { expectedSize: small.length });
    const offloaded = await run(small, {});
    expect(inline.hasher.md5).toBe(md5(small));
    expect(offloaded.hasher.md5).toBe(md5(small));
  });

  it('keeps concurrent sessions apart', async () => {
    const bodies = Array.from({ length: 6 }, (_, i) => Buffer.alloc(300_000 + i, i + 1));
    const results = await Promise.all(bodies.map((b) => run(b, {})));
    results.forEach((r, i) => expect(r.hasher.md5).toBe(md5(bodies[i])));
  });
});
