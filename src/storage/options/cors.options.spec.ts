import { corsFromEnv, resolveCorsOptions } from './cors.options';

describe('cors options', () => {
  it.each([
    [undefined, null],
    [false, null],
    [{ origins: '*' }, { origins: '*', maxAgeSeconds: 600 }],
    [{ origins: ['https://a.test', 'http://localhost:5173'], maxAgeSeconds: 60 }, { maxAgeSeconds: 60 }],
  ] as const)('%j resolves', (given, expected) => {
    const resolved = resolveCorsOptions(given as never);
    if (expected === null) expect(resolved).toBeNull();
    else expect(resolved).toMatchObject(expected);
  });

  it.each([['https://a.test/'], ['a.test'], ['ftp://a.test'], ['https://a.test/path']])(
    'refuses %s: an origin is scheme, host and port only',
    (origin) => {
      expect(() => resolveCorsOptions({ origins: [origin] })).toThrow(/cors\.origins/);
    },
  );

  it('reads CORS_ORIGINS over the files', () => {
    expect(corsFromEnv(undefined, { origins: ['https://f.test'] })).toEqual({ origins: ['https://f.test'] });
    expect(corsFromEnv('*', undefined)).toEqual({ origins: '*' });
    expect(corsFromEnv(' https://a.test, https://b.test ', { origins: '*', maxAgeSeconds: 5 })).toEqual({
      origins: ['https://a.test', 'https://b.test'],
      maxAgeSeconds: 5,
    });
  });
});
