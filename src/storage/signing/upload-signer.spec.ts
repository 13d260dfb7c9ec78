import { downloadPermitFromQuery, permitFromQuery, UploadSigner, type UploadPermit } from './upload-signer';

describe('UploadSigner', () => {
  const signer = new UploadSigner('a-test-secret-of-enough-length');
  const permit: UploadPermit = {
    storage: 'storages.Default',
    key: 'uploads/photo.jpg',
    contentType: 'image/jpeg',
    maxSize: 1048576,
    expires: 1_900_000_000,
    nonce: 'n0nceN0nceN0nceN0nce1',
  };

  it('verifies its own signature', () => {
    expect(signer.verify(permit, signer.sign(permit))).toBe(true);
  });

  it('signs base64url, 43 characters (sha256)', () => {
    expect(signer.sign(permit)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it.each<[string, Partial<UploadPermit>]>([
    ['another key', { key: 'uploads/photo.jpeg' }],
    ['a key with a prefix moved into the name', { key: 'uploadsphoto.jpg' }],
    ['another storage', { storage: 'storages.Other' }],
    ['another content type', { contentType: 'text/html' }],
    ['a larger size', { maxSize: 1048577 }],
    ['a later expiry', { expires: 1_900_000_001 }],
    ['another nonce', { nonce: 'n0nceN0nceN0nceN0nce2' }],
  ])('refuses the signature for %s', (_label, change) => {
    expect(signer.verify({ ...permit, ...change }, signer.sign(permit))).toBe(false);
  });

  it('refuses another secret, and malformed signatures', () => {
    const other = new UploadSigner('another-secret-of-enough-length');
    expect(signer.verify(permit, other.sign(permit))).toBe(false);
    const good = signer.sign(permit);
    for (const bad of ['', good.slice(1), `${good}A`, `${good.slice(0, -1)}+`, good.toUpperCase()]) {
      if (bad === good) continue;
      expect([bad, signer.verify(permit, bad)]).toEqual([bad, false]);
    }
  });

  it('refuses another spelling of the same bytes (spare bits of the last character)', () => {
    const good = signer.sign(permit);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(good[good.length - 1]);
    const twin = good.slice(0, -1) + alphabet[last ^ 1];
    expect(Buffer.from(twin, 'base64url').equals(Buffer.from(good, 'base64url'))).toBe(true);
    expect(signer.verify(permit, twin)).toBe(false);
  });

  it('refuses a short secret', () => {
    expect(() => new UploadSigner('short')).toThrow(/16 bytes/);
  });

  it('round-trips through a query string', () => {
    const parsed = permitFromQuery(permit.key, Object.fromEntries(new URLSearchParams(signer.query(permit))));
    expect(parsed).not.toBeNull();
    expect(parsed?.permit).toEqual(permit);
    expect(signer.verify(parsed!.permit, parsed!.signature)).toBe(true);
  });

  it.each<[string, Record<string, unknown>]>([
    ['a missing signature', { sig: undefined }],
    ['a repeated parameter', { type: ['image/jpeg', 'text/html'] }],
    ['a size that is not a number', { max: '1e9' }],
    ['a negative expiry', { exp: '-1' }],
  ])('reads no permit from a query with %s', (_label, change) => {
    const query: Record<string, unknown> = {
      ...Object.fromEntries(new URLSearchParams(signer.query(permit))),
      ...change,
    };
    expect(permitFromQuery(permit.key, query)).toBeNull();
  });
});

describe('UploadSigner download permits', () => {
  const signer = new UploadSigner('a-test-secret-of-enough-length');
  const permit = { storage: 'storages.Private', key: 'photos/a.jpg', expires: 1_900_000_000 };

  it('round-trips through a query string and verifies', () => {
    const parsed = downloadPermitFromQuery(
      permit.key,
      Object.fromEntries(new URLSearchParams(signer.downloadQuery(permit))),
    );
    expect(parsed).toEqual({ permit, signature: signer.signDownload(permit) });
    expect(signer.verifyDownload(permit, signer.signDownload(permit))).toBe(true);
  });

  it.each([
    ['another key', { key: 'photos/b.jpg' }],
    ['another storage', { storage: 'storages.Default' }],
    ['a later expiry', { expires: 1_900_000_001 }],
  ])('refuses the signature for %s', (_label, change) => {
    expect(signer.verifyDownload({ ...permit, ...change }, signer.signDownload(permit))).toBe(false);
  });

  it('is not an upload signature, nor the other way round', () => {
    const upload: UploadPermit = { ...permit, contentType: 'image/jpeg', maxSize: 1, nonce: 'n' };
    expect(signer.verifyDownload(permit, signer.sign(upload))).toBe(false);
    expect(signer.verify(upload, signer.signDownload(permit))).toBe(false);
  });

  it('tells an ordinary query (null) from a broken signed one', () => {
    expect(downloadPermitFromQuery('k', { storage: 'storages.Default' })).toBeNull();
    expect(downloadPermitFromQuery('k', { sig: 'x', storage: 'storages.Default' })).toBe('malformed');
    expect(downloadPermitFromQuery('k', { sig: 'x', storage: ['a', 'b'], exp: '1' })).toBe('malformed');
  });
});
