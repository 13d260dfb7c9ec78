import { StorageErrorCode } from '../../errors/storage.error';
import { mapFsError } from './local.driver';

/**
 * The tests run as root, whom a file's mode never stops, so an unreadable object cannot be made
 * for real here: the errno the kernel gives a non-root service is fed to the mapping instead.
 * ENOSPC is also caused for real, on a 1 MiB tmpfs, in test/local-disk-faults.e2e-spec.ts.
 */
const errno = (code: string) => Object.assign(new Error(`${code}: /secret/root/path`), { code });

describe('mapFsError names what failed', () => {
  it.each([
    ['EACCES', 'read', 503, 'the storage folder could not be read; check the permissions of the storage root'],
    ['EPERM', 'read', 503, 'the storage folder could not be read; check the permissions of the storage root'],
    ['EACCES', 'write', 503, 'the storage folder is not writable; check the permissions of the storage root'],
    ['EROFS', 'write', 503, 'the storage folder is not writable; check the permissions of the storage root'],
    ['EIO', 'read', 503, 'the storage disk could not be read'],
    ['EIO', 'write', 503, 'the storage disk could not be written'],
    ['ENOSPC', 'write', 507, 'the storage disk is full'],
    ['EDQUOT', 'write', 507, 'the storage disk is full'],
  ] as const)('%s on %s: %d %s', (code, access, status, message) => {
    const err = mapFsError(errno(code), 'a/b.txt', access);
    expect({ status: err.status, message: err.message }).toEqual({ status, message });
    expect(err.message).not.toContain('/secret');
  });

  it('out of space is E_INSUFFICIENT_STORAGE, never the caller being denied', () => {
    expect(mapFsError(errno('ENOSPC'), 'k').code).toBe(StorageErrorCode.INSUFFICIENT_STORAGE);
    expect(mapFsError(errno('EACCES'), 'k', 'read').code).not.toBe(StorageErrorCode.ACCESS_DENIED);
  });
});
