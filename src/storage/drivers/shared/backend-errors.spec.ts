import { StorageError, StorageErrorCode } from '../../errors/storage.error';
import { toStorageError } from './backend-errors';

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
