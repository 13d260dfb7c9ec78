import { StorageErrorCode } from '../errors/storage.error';
import {
  assertNotMd5Key,
  fileSuffix,
  isVersionKey,
  MAX_KEY_BYTES,
  MAX_SEGMENT_BYTES,
  normalizeFileName,
  normalizeKey,
  normalizeMd5,
  normalizePrefix,
  uniqueUploadKey,
  versionKey,
} from './keys';

describe('normalizeKey', () => {
  it.each([
    ['docs/a.pdf', 'docs/a.pdf'],
    ['a b/c d.txt', 'a b/c d.txt'],
    ['日本/ファイル.txt', '日本/ファイル.txt'],
    ['e\u0301.txt', '\u00e9.txt'], // NFD is stored as NFC
    ['.hidden', '.hidden'],
    ['a..b/c', 'a..b/c'],
    ['.thumbnailsx/a.png', '.thumbnailsx/a.png'],
    ['a/.thumbnails/b.png', 'a/.thumbnails/b.png'],
    ['x'.repeat(255), 'x'.repeat(255)],
    ['emoji/\u{1f600}.txt', 'emoji/\u{1f600}.txt'], // a surrogate pair is one well-formed character
  ])('accepts %j', (input, expected) => {
    expect(normalizeKey(input)).toBe(expected);
  });

  it.each([
    ['empty', ''],
    ['absolute', '/etc/passwd'],
    ['parent', '../x'],
    ['parent inside', 'a/../../x'],
    ['dot', './x'],
    ['empty segment', 'a//b'],
    ['trailing slash', 'a/'],
    ['backslash', 'a\\..\\b'],
    ['drive letter', 'C:/x'],
    ['NUL', 'a\u0000b'],
    ['newline', 'a\nb'],
    ['carriage return', 'a\rb'],
    ['DEL', 'a\u007fb'],
    ['C1 control', 'a\u0085b'],
    ['bidi override', 'a\u202eb'],
    ['segment over 255 bytes', 'x'.repeat(256)],
    ['multi-byte segment over 255 bytes', '日'.repeat(86)],
    ['path over 1024 bytes', Array.from({ length: 103 }, () => 'abcdefghi').join('/')],
    ['leading space', ' a.txt'],
    ['trailing space', 'a/b.txt '],
    ['not a string', 42],
    ['reserved prefix', '.thumbnails/x/y.webp'],
    ['reserved prefix alone', '.thumbnails'],
    ['staging prefix', '.Uploads/abc.bin'],
    ['reserved prefix, other case', '.Thumbnails/x.png'],
    ['lone high surrogate', 'a\ud800b.txt'],
    ['lone low surrogate', '\udc00/x.txt'],
    ['a pair cut in half at the end', 'x\ud83d'],
    ['a temp file name', 'a/.~tmp.1234'],
    ['a version mark', 'a/b.~v1abc.txt'],
  ])('refuses %s', (_label, input) => {
    expect(() => normalizeKey(input)).toThrow(expect.objectContaining({ code: StorageErrorCode.INVALID_PATH }));
  });
});

describe('normalizePrefix', () => {
  it('keeps a trailing slash and allows empty', () => {
    expect(normalizePrefix('a/b/')).toBe('a/b/');
    expect(normalizePrefix('a/b')).toBe('a/b');
    expect(normalizePrefix(undefined)).toBe('');
    expect(() => normalizePrefix('../')).toThrow();
  });
});

describe('fileSuffix', () => {
  it.each([
    ['report.pdf', '.pdf'],
    ['a/b/Photo.JPG', '.jpg'],
    ['archive.tar.gz', '.gz'],
    ['noext', ''],
    ['.bashrc', ''],
    ['trailing.', ''],
    ['weird.p df', ''],
    ['dir.d/file', ''],
  ])('%s → %j', (key, suffix) => {
    expect(fileSuffix(key)).toBe(suffix);
  });
});

describe('normalizeMd5', () => {
  it('lower-cases valid hashes and refuses the rest', () => {
    expect(normalizeMd5('E490F38EEE7AB901E1945BC954AC1377')).toBe('e490f38eee7ab901e1945bc954ac1377');
    for (const bad of ['', 'xyz', 'e490f38eee7ab901e1945bc954ac137', '../e490f38eee7ab901e1945bc954ac1377', 5]) {
      expect(() => normalizeMd5(bad)).toThrow(expect.objectContaining({ code: StorageErrorCode.INVALID_ARGUMENT }));
    }
  });
});

describe('versionKey', () => {
  it.each([
    ['docs/report.pdf', /^docs\/report\.~v[0-9a-z]{18,}\.pdf$/],
    ['README', /^README\.~v[0-9a-z]{18,}$/],
    ['a/b.tar.gz', /^a\/b\.tar\.~v[0-9a-z]{18,}\.gz$/],
    ['.hidden', /^\.hidden\.~v[0-9a-z]{18,}$/],
    ['日本/ファイル.TXT', /^日本\/ファイル\.~v[0-9a-z]{18,}\.TXT$/],
  ])('puts the version of %j beside it, before the extension', (key, shape) => {
    const version = versionKey(key);
    expect(version).toMatch(shape);
    expect(isVersionKey(version)).toBe(true);
    expect(isVersionKey(key)).toBe(false);
  });

  it('never gives two writers the same key, and sorts versions by age', () => {
    const keys = new Set(Array.from({ length: 1000 }, () => versionKey('a/b.txt', 1_700_000_000_000)));
    expect(keys.size).toBe(1000);
    expect(versionKey('a.txt', 1_700_000_000_000) < versionKey('a.txt', 1_800_000_000_000)).toBe(true);
  });

  it('shortens the stem to stay within the segment and key limits', () => {
    const longName = `${'n'.repeat(MAX_SEGMENT_BYTES - 4)}.txt`;
    const version = versionKey(`dir/${longName}`);
    expect(Buffer.byteLength(version.split('/')[1])).toBeLessThanOrEqual(MAX_SEGMENT_BYTES);
    expect(version.endsWith('.txt')).toBe(true);
    const deep = `${Array.from({ length: 7 }, () => 'd'.repeat(140)).join('/')}/f.txt`;
    expect(Buffer.byteLength(deep)).toBeLessThanOrEqual(MAX_KEY_BYTES);
    const deepVersion = versionKey(deep);
    expect(Buffer.byteLength(deepVersion)).toBeLessThanOrEqual(MAX_KEY_BYTES);
    expect(isVersionKey(deepVersion)).toBe(true);
  });

  it('user keys may not contain the internal mark', () => {
    for (const bad of ['a.~v1.txt', 'x/.~tmp.abc', 'a.~b/c']) {
      expect(() => normalizeKey(bad)).toThrow(expect.objectContaining({ code: StorageErrorCode.INVALID_PATH }));
    }
  });
});

describe('uniqueUploadKey', () => {
  it('makes a new key under uploads/ for every call, keeping the type’s extension', () => {
    const keys = new Set(Array.from({ length: 1000 }, () => uniqueUploadKey('Report.PDF', 1_700_000_000_000)));
    expect(keys.size).toBe(1000);
    for (const key of keys) {
      expect(key).toMatch(/^uploads\/[0-9a-z]+[0-9a-f]{16}\.pdf$/);
      expect(normalizeKey(key)).toBe(key);
    }
  });

  it('sorts by time, and leaves out an extension that is not one', () => {
    expect(uniqueUploadKey('a.txt', 1_700_000_000_000) < uniqueUploadKey('a.txt', 1_800_000_000_000)).toBe(true);
    expect(uniqueUploadKey('no extension', 5)).toMatch(/^uploads\/5[0-9a-f]{16}$/);
    expect(uniqueUploadKey('../../etc/passwd.~v1.sh;', 5)).toMatch(/^uploads\/5[0-9a-f]{16}$/);
  });
});

describe('assertNotMd5Key (the md5 namespace)', () => {
  const hash = 'd41d8cd98f00b204e9800998ecf8427e';
  it.each([[hash], [`${hash}.pdf`], [`${hash}.tar.gz`], [`${hash}.PDF`]])('refuses %s', (key) => {
    expect(() => assertNotMd5Key(key)).toThrow(
      expect.objectContaining({
        code: StorageErrorCode.INVALID_ARGUMENT,
        message: expect.stringContaining('pass md5'),
      }),
    );
  });
  it.each([
    [`docs/${hash}.pdf`], // not at the root
    [hash.toUpperCase()], // the service only ever names objects in lower case
    [`${hash}x.pdf`],
    [`${hash.slice(1)}.pdf`],
    [`${hash}-copy.pdf`],
    ['report.pdf'],
  ])('accepts %s', (key) => {
    expect(() => assertNotMd5Key(key)).not.toThrow();
  });
});

describe('normalizeFileName', () => {
  it.each([
    ['Hällo wörld.txt', 'Hällo wörld.txt'],
    ['日本語.pdf', '日本語.pdf'],
    ['a\u0000b\u001fc\u007fd\u0085e\u009f.txt', 'abcde.txt'],
    ['line\r\nbreak.txt', 'linebreak.txt'],
    ['tab\there.txt', 'tabhere.txt'],
    ['e\u0301.txt', '\u00e9.txt'],
    ['\u0001\u0002', 'fallback.bin'],
    ['', 'fallback.bin'],
  ])('%j becomes %j', (input, expected) => {
    expect(normalizeFileName(input, 'fallback.bin')).toBe(expected);
  });
  it('refuses a name that is not well-formed Unicode', () => {
    expect(() => normalizeFileName('a\ud800.txt', 'x')).toThrow(
      expect.objectContaining({ code: StorageErrorCode.INVALID_ARGUMENT }),
    );
  });
});
