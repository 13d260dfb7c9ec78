import { Readable } from 'node:stream';
import { StorageError, StorageErrorCode } from '../errors/storage.error';
import {
  CloudDriverBase,
  multipartUpload,
  type MultipartTarget,
  narrowToRange,
  readChunks,
  toStorageError,
  withDeadline,
} from './driver-utils';
import type { ObjectStat } from './storage-driver';

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function chunked(data: Buffer, size: number): Readable {
  const pieces: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) pieces.push(data.subarray(i, i + size));
  return Readable.from(pieces);
}

describe('readChunks', () => {
  it.each([
    [0, 4, [0]],
    [3, 4, [3]],
    [4, 4, [4]],
    [9, 4, [4, 4, 1]],
    [12, 4, [4, 4, 4]],
  ])('splits %i bytes into parts of %i: %j', async (size, partSize, expected) => {
    const data = Buffer.from(Array.from({ length: size }, (_, i) => i));
    const parts: Buffer[] = [];
    for await (const part of readChunks(chunked(data, 3), partSize)) parts.push(part);
    expect(parts.map((p) => p.length)).toEqual(expected);
    expect(Buffer.concat(parts).equals(data)).toBe(true);
  });
});

describe('multipartUpload', () => {
  function recorder(failPart?: number) {
    const calls: string[] = [];
    const target: MultipartTarget = {
      putWhole: async (data) => void calls.push(`whole ${data.length}`),
      begin: async () => (calls.push('begin'), 'u1'),
      uploadPart: async (_id, n, data) => {
        if (n === failPart) throw new Error('part failed');
        calls.push(`part ${n} ${data.length}`);
        return `etag${n}`;
      },
      complete: async (_id, parts) => void calls.push(`complete ${parts.map((p) => p.etag).join(',')}`),
      abort: async () => void calls.push('abort'),
    };
    return { calls, target };
  }

  it('sends a body that fits in one part (or is empty) with one request', async () => {
    for (const size of [0, 5, 8]) {
      const { calls, target } = recorder();
      await multipartUpload(chunked(Buffer.alloc(size), 3), 8, target);
      expect(calls).toEqual([`whole ${size}`]);
    }
  });

  it('uploads larger bodies part by part and completes in order', async () => {
    const { calls, target } = recorder();
    await multipartUpload(chunked(Buffer.alloc(20), 3), 8, target);
    expect(calls).toEqual(['begin', 'part 1 8', 'part 2 8', 'part 3 4', 'complete etag1,etag2,etag3']);
  });

  it('aborts the upload, without completing, when the body errors after the first part', async () => {
    const { calls, target } = recorder();
    const body = new Readable({ read() {} });
    body.push(Buffer.alloc(20));
    setImmediate(() => body.destroy(new Error('client went away')));
    await expect(multipartUpload(body, 8, target)).rejects.toThrow('client went away');
    expect(calls).toEqual(['begin', 'part 1 8', 'part 2 8', 'abort']);
  });

  it('aborts when a part upload fails', async () => {
    const { calls, target } = recorder(2);
    await expect(multipartUpload(chunked(Buffer.alloc(30), 8), 8, target)).rejects.toThrow('part failed');
    expect(calls).toEqual(['begin', 'part 1 8', 'abort']);
  });
});

describe('narrowToRange', () => {
  const data = Buffer.from('0123456789abcdef');

  it('passes an exact answer through', async () => {
    const body = Readable.from([data.subarray(2, 6)]);
    expect(narrowToRange(body, { start: 2, end: 5 }, 'bytes 2-5/16')).toBe(body);
  });

  it.each([
    ['the whole object (Range ignored)', undefined, 0],
    ['a widened range', 'bytes 0-15/16', 0],
    ['a range starting earlier', 'bytes 1-15/16', 1],
  ])('cuts %s down to the asked bytes', async (_label, contentRange, from) => {
    const body = chunked(data.subarray(from), 3);
    const got = await collect(narrowToRange(body, { start: 4, end: 9 }, contentRange));
    expect(got.toString()).toBe('456789');
  });

  it('refuses an answer that starts after the asked range', () => {
    expect(() => narrowToRange(Readable.from([data]), { start: 0, end: 3 }, 'bytes 4-15/16')).toThrow(StorageError);
  });
});

describe('toStorageError', () => {
  it.each([
    [{ status: 404 }, StorageErrorCode.NOT_FOUND],
    [{ code: 'NoSuchKey' }, StorageErrorCode.NOT_FOUND],
    [{ code: 'BlobNotFound', status: 404 }, StorageErrorCode.NOT_FOUND],
    [{ code: 'NoSuchBucket', status: 404 }, StorageErrorCode.INVALID_CONFIG],
    [{ status: 403 }, StorageErrorCode.ACCESS_DENIED],
    [{ code: 'SignatureDoesNotMatch', status: 403 }, StorageErrorCode.ACCESS_DENIED],
    [{ code: 'AuthenticationFailed' }, StorageErrorCode.ACCESS_DENIED],
    [{ status: 503 }, StorageErrorCode.BACKEND_UNAVAILABLE],
    [{ status: 500 }, StorageErrorCode.BACKEND_UNAVAILABLE],
    [{ status: 416 }, StorageErrorCode.RANGE_NOT_SATISFIABLE],
    [{ status: 400, code: 'InvalidArgument' }, StorageErrorCode.INTERNAL],
  ])('maps %j to %s', (failure, code) => {
    expect(toStorageError(new Error('sdk'), 'k', 'S3', failure).code).toBe(code);
  });

  it.each([
    ['a socket error code', Object.assign(new Error('connect failed'), { code: 'ECONNREFUSED' })],
    ['a nested cause', new Error('wrapped', { cause: Object.assign(new Error('x'), { code: 'ETIMEDOUT' }) })],
    ['an aggregated error', new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })])],
    ['a timeout name', Object.assign(new Error('slow'), { name: 'TimeoutError' })],
    ['a code only in the message', new Error('AWS SDK error wrapper for Error: connect ECONNREFUSED 127.0.0.1:9')],
  ])('classifies %s as E_BACKEND_UNAVAILABLE', (_label, err) => {
    expect(toStorageError(err, 'k', 'S3', {}).code).toBe(StorageErrorCode.BACKEND_UNAVAILABLE);
  });

  it('passes StorageErrors through and maps aborts to E_ABORTED', () => {
    const own = new StorageError(StorageErrorCode.MD5_MISMATCH, 'md5');
    expect(toStorageError(own, 'k', 'S3', { status: 500 })).toBe(own);
    const abort = Object.assign(new Error('aborted'), { name: 'AbortError' });
    expect(toStorageError(abort, 'k', 'S3', {}).code).toBe(StorageErrorCode.ABORTED);
  });

  it('keeps the SDK message (which may hold URLs or account names) out of the message', () => {
    const err = toStorageError(new Error('https://acct.blob/x?sig=SECRET'), 'a/b', 'Azure Blob', { status: 403 });
    expect(err.message).not.toContain('SECRET');
    expect(err.message).toContain("'a/b'");
  });
});

describe('withDeadline', () => {
  it('rejects with E_BACKEND_UNAVAILABLE and aborts the signal when time is up', async () => {
    let signal: AbortSignal | undefined;
    const started = Date.now();
    const err = await withDeadline(50, 'S3', (s) => {
      signal = s;
      return new Promise(() => undefined);
    }).catch((e: unknown) => e);
    expect((err as StorageError).code).toBe(StorageErrorCode.BACKEND_UNAVAILABLE);
    expect(signal?.aborted).toBe(true);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('resolves with the answer in time', async () => {
    await expect(withDeadline(1000, 'S3', async () => 42)).resolves.toBe(42);
  });
});

describe('CloudDriverBase', () => {
  class Fake extends CloudDriverBase {
    protected readonly backend = 'Fake';
    constructor(
      publicUrl: string | undefined,
      private readonly result: () => Promise<ObjectStat>,
    ) {
      super({ publicUrl });
    }
    protected mapError(err: unknown, key: string): Error {
      return toStorageError(err, key, this.backend, { status: (err as { status?: number }).status });
    }
    stat(key: string): Promise<ObjectStat> {
      return this.call(key, () => this.result());
    }
  }

  it('builds public URLs with each segment encoded, or null without a base', () => {
    const stat = async () => ({ key: 'k', size: 0, lastModified: new Date() });
    expect(new Fake('https://cdn.example/files/', stat).publicUrl('a b/ü#?.txt')).toBe(
      'https://cdn.example/files/a%20b/%C3%BC%23%3F.txt',
    );
    expect(new Fake(undefined, stat).publicUrl('a')).toBeNull();
  });

  it('answers exists from stat: false on E_NOT_FOUND, other failures rethrown', async () => {
    const fails = (status: number) => async () => Promise.reject(Object.assign(new Error('x'), { status }));
    expect(await new Fake(undefined, async () => ({ key: 'k', size: 1, lastModified: new Date() })).exists('k')).toBe(
      true,
    );
    expect(await new Fake(undefined, fails(404)).exists('k')).toBe(false);
    await expect(new Fake(undefined, fails(403)).exists('k')).rejects.toMatchObject({
      code: StorageErrorCode.ACCESS_DENIED,
    });
  });
});
