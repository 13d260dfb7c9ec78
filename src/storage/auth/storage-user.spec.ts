import type { Request } from 'express';
import { hasScope, requestUser } from './storage-user';

const req = (user: unknown) => ({ user }) as unknown as Request;

describe('the caller a guard leaves on req.user', () => {
  it('is full access without limits (a plain name, or passport-style username/id)', () => {
    expect(requestUser(req({ name: 'alice' }))).toEqual({ name: 'alice' });
    expect(requestUser(req({ id: 7 }))).toEqual({ name: '7' });
    expect(requestUser(req(undefined))).toBeUndefined();
    expect(hasScope(requestUser(req({ name: 'alice' })), 'admin')).toBe(true);
  });

  it('keeps well-formed limits', () => {
    expect(requestUser(req({ name: 'a', scopes: ['read', 'bogus'], storages: ['storages.M'], prefix: 'a/' }))).toEqual({
      name: 'a',
      scopes: ['read'],
      storages: ['storages.M'],
      prefix: 'a/',
    });
  });

  it('fails closed on malformed limits: they allow nothing rather than everything', () => {
    const user = requestUser(req({ name: 'a', scopes: 'admin', storages: 'storages.M', prefix: 42 }));
    expect(user?.scopes).toEqual([]);
    expect(user?.storages).toEqual([]);
    expect(user?.prefix).toBe('\u0000');
    expect(hasScope(user, 'read')).toBe(false);
  });

  it('delete-any includes delete, not the other way round', () => {
    expect(hasScope({ scopes: ['delete-any'] }, 'delete')).toBe(true);
    expect(hasScope({ scopes: ['delete'] }, 'delete-any')).toBe(false);
    expect(hasScope({ scopes: ['read'] }, 'write')).toBe(false);
  });
});
