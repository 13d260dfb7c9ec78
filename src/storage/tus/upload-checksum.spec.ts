import { createHash } from 'node:crypto';
import { parseUploadChecksum } from './upload-checksum';

const sha1 = createHash('sha1').update('hello').digest('base64');
const md5 = createHash('md5').update('hello').digest('base64');

/** tus 1.0.0, checksum extension: `Upload-Checksum: <algorithm> <base64 digest>`. */
describe('parseUploadChecksum', () => {
  it.each([
    [undefined, 'absent'],
    [`sha1 ${sha1}`, 'ok'],
    [`SHA1 ${sha1}`, 'ok'],
    [`md5 ${md5}`, 'ok'],
    [`crc32 AAAAAA==`, 'unsupported'],
    [`sha1 ${md5}`, 'malformed'],
    [`sha1`, 'malformed'],
    [`sha1  ${sha1}`, 'malformed'],
    [`sha1 ${sha1.slice(0, -1)}`, 'malformed'],
    [`sha1 not base64!`, 'malformed'],
  ])('%s -> %s', (header, outcome) => {
    expect(parseUploadChecksum(header).outcome).toBe(outcome);
  });

  it('gives the algorithm in lower case and the digest as sent', () => {
    expect(parseUploadChecksum(`SHA1 ${sha1}`)).toEqual({
      outcome: 'ok',
      checksum: { algorithm: 'sha1', digest: sha1 },
    });
  });
});
