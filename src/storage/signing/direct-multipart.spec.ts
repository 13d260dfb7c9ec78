import { choosePartSize } from './direct-multipart.service';

const MIB = 1024 * 1024;
const S3 = { minPartSize: 5 * MIB, maxPartSize: 5 * 1024 * MIB, maxParts: 10_000 };

describe('choosePartSize', () => {
  it.each([
    ['the default for an unknown size', undefined, undefined, 16 * MIB],
    ['the client’s wish', 100 * MIB, 8 * MIB, 8 * MIB],
    ['raised to the backend minimum', 100 * MIB, 1024, 5 * MIB],
    ['raised so 10,000 parts hold the file', 1024 * 1024 * MIB, 8 * MIB, Math.ceil((1024 * 1024 * MIB) / 10_000)],
  ])('%s', (_case, size, wanted, expected) => {
    expect(choosePartSize(S3, size, wanted)).toBe(expected);
  });

  it('refuses a file that would need parts over the backend’s maximum', () => {
    expect(() => choosePartSize(S3, 10_000 * 6 * 1024 * MIB)).toThrow(/larger than this backend allows/);
  });
});
