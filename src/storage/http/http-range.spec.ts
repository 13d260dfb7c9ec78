import fc from 'fast-check';
import { parseRange } from './http-range';

describe('parseRange', () => {
  it.each([
    ['bytes=0-0', 10, { start: 0, end: 0 }],
    ['bytes=0-9', 10, { start: 0, end: 9 }],
    ['bytes=9-9', 10, { start: 9, end: 9 }],
    ['bytes=-1', 10, { start: 9, end: 9 }],
    ['bytes=-10', 10, { start: 0, end: 9 }],
    ['bytes=-25', 10, { start: 0, end: 9 }],
    ['bytes=5-', 10, { start: 5, end: 9 }],
    ['bytes=0-', 10, { start: 0, end: 9 }],
    ['bytes=3-100', 10, { start: 3, end: 9 }],
    ['BYTES = 2 - 4', 10, { start: 2, end: 4 }],
  ])('%s of %i bytes → %j', (header, size, expected) => {
    expect(parseRange(header, size)).toEqual(expected);
  });

  it.each([
    ['bytes=10-', 10],
    ['bytes=10-20', 10],
    ['bytes=11-11', 10],
    ['bytes=-0', 10],
    ['bytes=0-0', 0],
    ['bytes=-1', 0],
    ['bytes=0-', 0],
  ])('%s of %i bytes → unsatisfiable (416)', (header, size) => {
    expect(parseRange(header, size)).toBe('unsatisfiable');
  });

  it.each([
    ['no header', undefined],
    ['empty', ''],
    ['multi-range', 'bytes=0-1,3-4'],
    ['multi-range with a suffix', 'bytes=0-0, -1'],
    ['last before first', 'bytes=5-2'],
    ['no numbers', 'bytes=-'],
    ['letters', 'bytes=a-b'],
    ['negative', 'bytes=--1'],
    ['other unit', 'items=0-1'],
    ['no unit', '0-1'],
    ['decimals', 'bytes=1.5-2'],
    ['beyond safe integers', 'bytes=0-99999999999999999999'],
  ])('%s → whole body (200)', (_label, header) => {
    expect(parseRange(header, 10)).toBeNull();
  });

  it('always returns a range inside the body, or unsatisfiable exactly when it starts past the end', () => {
    fc.assert(
      fc.property(fc.nat(1000), fc.nat(1200), fc.option(fc.nat(1200), { nil: undefined }), (size, first, last) => {
        const result = parseRange(`bytes=${first}-${last ?? ''}`, size);
        if (last !== undefined && last < first) return result === null;
        if (first >= size) return result === 'unsatisfiable';
        if (result === null || result === 'unsatisfiable') return false;
        return result.start === first && result.end === Math.min(last ?? size - 1, size - 1) && result.end < size;
      }),
    );
    fc.assert(
      fc.property(fc.nat(1000), fc.nat(1200), (size, suffix) => {
        const result = parseRange(`bytes=-${suffix}`, size);
        if (suffix === 0 || size === 0) return result === 'unsatisfiable';
        return (
          typeof result === 'object' &&
          result?.end === size - 1 &&
          result.end - result.start + 1 === Math.min(suffix, size)
        );
      }),
    );
  });
});
