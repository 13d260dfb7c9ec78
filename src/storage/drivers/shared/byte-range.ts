import { type Readable, Transform } from 'node:stream';
import { StorageError, StorageErrorCode } from '../../errors/storage.error';
import type { ByteRange } from '../storage-driver';

/**
 * The body of a ranged GET, narrowed to `range` when the server answered with more: HTTP lets a
 * server ignore `Range` (a 200 with the whole object) and some S3-compatible servers widen it.
 * `contentRange` is the response's `Content-Range` header, absent for a whole-object answer.
 */
export function narrowToRange(body: Readable, range: ByteRange, contentRange: string | undefined): Readable {
  const served = /^bytes (\d+)-(\d+)\//.exec(contentRange ?? '');
  const servedStart = served ? Number(served[1]) : 0;
  if (served && servedStart === range.start && Number(served[2]) === range.end) return body;
  if (servedStart > range.start) {
    body.destroy();
    throw new StorageError(StorageErrorCode.INTERNAL, 'the backend answered a different byte range', {
      range,
      contentRange,
    });
  }
  let position = servedStart;
  const window = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const from = Math.max(0, range.start - position);
      const to = Math.min(chunk.length, range.end + 1 - position);
      position += chunk.length;
      if (to > from) this.push(chunk.subarray(from, to));
      if (position > range.end) {
        this.push(null);
        body.unpipe(this);
        body.destroy();
      }
      done();
    },
  });
  body.on('error', (err) => window.destroy(err));
  return body.pipe(window);
}
