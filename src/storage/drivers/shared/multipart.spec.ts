import { Readable } from 'node:stream';
import { chunkedStream } from '../../../../test/drivers/contract-support';
import { multipartUpload, type MultipartTarget, readChunks } from './multipart';

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
    for await (const part of readChunks(chunkedStream(data, 3), partSize)) parts.push(part);
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
      await multipartUpload(chunkedStream(Buffer.alloc(size), 3), 8, target);
      expect(calls).toEqual([`whole ${size}`]);
    }
  });

  it('uploads larger bodies part by part and completes in order', async () => {
    const { calls, target } = recorder();
    await multipartUpload(chunkedStream(Buffer.alloc(20), 3), 8, target);
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
    await expect(multipartUpload(chunkedStream(Buffer.alloc(30), 8), 8, target)).rejects.toThrow('part failed');
    expect(calls).toEqual(['begin', 'part 1 8', 'abort']);
  });
});

describe('multipartUpload with several parts in flight', () => {
  it('keeps at most queueSize parts in flight and completes them in order', async () => {
    let inFlight = 0;
    let most = 0;
    const completed: number[][] = [];
    const target: MultipartTarget = {
      putWhole: async () => undefined,
      begin: async () => 'u1',
      uploadPart: async (_id, n) => {
        most = Math.max(most, ++inFlight);
        await new Promise((resolve) => setTimeout(resolve, n % 2 ? 20 : 5));
        inFlight -= 1;
        return `e${n}`;
      },
      complete: async (_id, parts) => void completed.push(parts.map((p) => p.partNumber)),
      abort: async () => undefined,
    };
    await multipartUpload(chunkedStream(Buffer.alloc(80), 8), 8, target, 3);
    expect(most).toBe(3);
    expect(completed).toEqual([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]);
  });

  it('sends the abort only after every part in flight has settled', async () => {
    const calls: string[] = [];
    const target: MultipartTarget = {
      putWhole: async () => undefined,
      begin: async () => 'u1',
      uploadPart: async (_id, n) => {
        if (n === 2) throw new Error('part failed');
        await new Promise((resolve) => setTimeout(resolve, 20));
        calls.push(`part ${n}`);
        return `e${n}`;
      },
      complete: async () => void calls.push('complete'),
      abort: async () => void calls.push('abort'),
    };
    await expect(multipartUpload(chunkedStream(Buffer.alloc(40), 8), 8, target, 4)).rejects.toThrow('part failed');
    expect(calls[calls.length - 1]).toBe('abort');
    expect(calls).not.toContain('complete');
  });
});
