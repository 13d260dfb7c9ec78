import { parseApiTokens, withEnvLimits } from './api-tokens.options';

describe('apiTokens', () => {
  const known = ['storages.Default', 'storages.Media'];

  it('keeps name: token as full access, and reads the richer form', () => {
    expect(
      parseApiTokens(
        {
          admin: 'admin-token',
          alice: {
            token: 'alice-token',
            scopes: ['read', 'write', 'read'],
            storages: ['storages.Media'],
            prefix: 'alice/',
          },
        },
        known,
      ),
    ).toEqual([
      { name: 'admin', token: 'admin-token' },
      {
        name: 'alice',
        token: 'alice-token',
        scopes: ['read', 'write'],
        storages: ['storages.Media'],
        prefix: 'alice/',
      },
    ]);
  });

  it.each<[string, unknown, string]>([
    ['an empty token', { a: '' }, 'apiTokens.a'],
    ['no token', { a: { scopes: ['read'] } }, 'apiTokens.a.token'],
    ['an unknown scope', { a: { token: 't', scopes: ['root'] } }, 'apiTokens.a.scopes'],
    ['scopes as a string', { a: { token: 't', scopes: 'read' } }, 'apiTokens.a.scopes'],
    ['an unknown instance', { a: { token: 't', storages: ['storages.Nope'] } }, 'apiTokens.a.storages'],
    ['an absolute prefix', { a: { token: 't', prefix: '/etc/' } }, 'apiTokens.a.prefix'],
    ['a prefix that climbs', { a: { token: 't', prefix: 'a/../b/' } }, 'apiTokens.a.prefix'],
    ['a misspelt option', { a: { token: 't', scope: ['read'] } }, 'apiTokens.a.scope'],
  ])('refuses %s, naming the field', (_label, given, field) => {
    expect(() => parseApiTokens(given, known)).toThrow(`'${field}'`);
  });

  it('API_TOKEN_SCOPES adds limits to API_TOKENS by name, as JSON', () => {
    const tokens = { alice: 'a:1', bob: 'b2' };
    expect(withEnvLimits(tokens, undefined)).toBe(tokens);
    expect(withEnvLimits(tokens, '{"alice":{"scopes":["read"],"prefix":"alice/"}}')).toEqual({
      alice: { token: 'a:1', scopes: ['read'], prefix: 'alice/' },
      bob: 'b2',
    });
  });

  it.each(['alice=read', '[]', '{"carol":{"scopes":["read"]}}', '{"alice":{"token":"x"}}'])(
    'refuses API_TOKEN_SCOPES=%s, naming the variable',
    (raw) => {
      expect(() => withEnvLimits({ alice: 'a1' }, raw)).toThrow(/API_TOKEN_SCOPES/);
    },
  );
});
