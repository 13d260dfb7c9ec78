import { StorageError, StorageErrorCode } from '../errors/storage.error';
import { Limiter } from './concurrency';
import { thumbnailParams } from './thumbnail-params';
import { thumbnailRefusalReason } from './thumbnail-refusals';
import { assertImage } from './thumbnail-renderer';

/** The error a call throws (or rejects with). */
async function errorOf(run: () => unknown): Promise<unknown> {
  try {
    await run();
  } catch (err) {
    return err;
  }
  throw new Error('expected a refusal');
}

describe('thumbnailRefusalReason', () => {
  const never = () => new Promise<void>(() => undefined);

  it('names the queue refusals of the Limiter', async () => {
    const shared = new Limiter(1, 0);
    void shared.run(never, 'a');
    expect(thumbnailRefusalReason(await errorOf(() => shared.run(never, 'b')))).toBe('queue_full');
    const perClient = new Limiter(1, 10, 0);
    void perClient.run(never, 'a');
    expect(thumbnailRefusalReason(await errorOf(() => perClient.run(never, 'a')))).toBe('client_queue_full');
  });

  it.each([
    ['bad_parameters', () => thumbnailParams(Number.NaN, undefined, {}, { maxWidth: 10, maxHeight: 10 } as never)],
    ['not_an_image', () => assertImage(Buffer.from('plain text'), 'notes.txt')],
    ['source_too_large', () => Promise.reject(StorageError.tooLarge(64))],
  ])('names %s', async (reason, run) => {
    expect(thumbnailRefusalReason(await errorOf(run))).toBe(reason);
  });

  it.each([
    ['a missing file', StorageError.notFound('a.jpg')],
    ['a backend that is down', new StorageError(StorageErrorCode.BACKEND_UNAVAILABLE, 'down')],
    ['an error of no storage kind', new Error('boom')],
  ])('counts %s as no refusal', (_what, err) => {
    expect(thumbnailRefusalReason(err)).toBeUndefined();
  });
});
