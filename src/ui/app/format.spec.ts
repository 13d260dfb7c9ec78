import { formatBytes, formatExpiry, formatProgress } from './format';

describe('page formatting', () => {
  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1536, '1.5 KiB'],
    [200 * 1024 * 1024, '200 MiB'],
    [5.5 * 1024 ** 3, '5.5 GiB'],
  ])('formatBytes(%d) is %j', (bytes, text) => expect(formatBytes(bytes)).toBe(text));

  const now = 1_700_000_000_000;
  it.each([
    [null, 'never'],
    [now - 1, 'expired'],
    [now + 30_000, 'in under a minute'],
    [now + 60_000, 'in 1 minute'],
    [now + 3_599_000, 'in 59 minutes'],
    [now + 3_600_000, 'in 1 hour'],
    [now + 3 * 86_400_000 + 5, 'in 3 days'],
  ])('formatExpiry(%j) is %j', (at, text) => expect(formatExpiry(at, now)).toBe(text));

  it('formats progress', () => {
    expect(formatProgress(512, 2048)).toBe('25% · 512 B of 2.0 KiB');
    expect(formatProgress(0, 0)).toBe('100% · 0 B of 0 B');
  });
});
