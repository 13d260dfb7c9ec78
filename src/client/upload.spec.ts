import type { InstanceInfo } from '../storage/registry/instance-info';
import { LARGE_FILE, pickStrategy } from './upload';

const instance = (kind: string, multipart: boolean, tus = true): InstanceInfo => ({
  name: `storages.${kind}`,
  kind,
  default: true,
  public: true,
  maxUploadSize: 10 * 1024 ** 3,
  uploads: {
    signed: true,
    tus,
    multipart: multipart ? { partSize: 16 << 20, minPartSize: 5 << 20, maxPartSize: 5 << 30, maxParts: 10_000 } : null,
  },
});

describe('pickStrategy (auto)', () => {
  it.each([
    ['small file to a bucket: one signed request', instance('s3', true), 1000, 'put'],
    ['large file to a bucket: direct multipart', instance('s3', true), LARGE_FILE + 1, 'multipart'],
    ['large file to local disk: tus', instance('local', false), LARGE_FILE + 1, 'tus'],
    ['small file to local disk: one signed PUT', instance('local', false), 1000, 'put'],
    ['large file, no tus, no multipart: one signed PUT', instance('local', false, false), LARGE_FILE + 1, 'put'],
  ])('%s', (_case, info, size, expected) => {
    expect(pickStrategy(info, size, 'auto', true)).toBe(expected);
  });

  it('never picks tus where tus-js-client cannot read a Blob (Node)', () => {
    expect(pickStrategy(instance('local', false), LARGE_FILE + 1, 'auto', false)).toBe('put');
  });

  it('keeps an explicit strategy', () => {
    expect(pickStrategy(instance('s3', true), 10, 'tus')).toBe('tus');
  });
});
