import { Readable } from 'node:stream';
import { chunkedStream, readAll } from '../../../../test/drivers/contract-support';
import { StorageError } from '../../errors/storage.error';
import { narrowToRange } from './byte-range';

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
    const body = chunkedStream(data.subarray(from), 3);
    const got = await readAll(narrowToRange(body, { start: 4, end: 9 }, contentRange));
    expect(got.toString()).toBe('456789');
  });

  it('refuses an answer that starts after the asked range', () => {
    expect(() => narrowToRange(Readable.from([data]), { start: 0, end: 3 }, 'bytes 4-15/16')).toThrow(StorageError);
  });
});
