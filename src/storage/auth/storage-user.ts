import type { Request } from 'express';
import { SCOPES, type AccessLimits, type Scope } from '../options/api-tokens.options';

/**
 * Who made the request, as a guard leaves it on `req.user`: `name` (recorded as `uploadUser`) and
 * optional limits. A host's own guard (`forRoot({ authGuard })`) puts this shape there; an absent
 * `scopes`, `storages` or `prefix` means no limit of that kind, so a guard that sets only a name
 * (or `username`/`id`, as passport strategies do) gives full access.
 */
export interface StorageUser extends AccessLimits {
  name: string;
}

/** The caller a guard left on `req`, its limits read defensively; undefined when there is none. */
export function requestUser(req: Request): StorageUser | undefined {
  const user = (req as { user?: Record<string, unknown> }).user;
  if (!user || typeof user !== 'object') return undefined;
  const name = user.name ?? user.username ?? user.id;
  // A limit that is there but malformed limits everything (fails closed), never nothing.
  const list = (value: unknown): string[] | undefined =>
    value === undefined || value === null
      ? undefined
      : Array.isArray(value)
        ? value.filter((v): v is string => typeof v === 'string')
        : [];
  const scopes = list(user.scopes)?.filter((s): s is Scope => (SCOPES as readonly string[]).includes(s));
  const storages = list(user.storages);
  return {
    name: name === undefined || name === null ? '' : String(name),
    ...(scopes ? { scopes } : {}),
    ...(storages ? { storages } : {}),
    ...prefixOf(user.prefix),
  };
}

function prefixOf(value: unknown): { prefix?: string } {
  if (value === undefined || value === null || value === '') return {};
  // No key starts with a NUL: a malformed prefix matches nothing.
  return { prefix: typeof value === 'string' ? value.normalize('NFC') : '\u0000' };
}

/** Whether `user` has `scope`; no user or no `scopes` is full access, and `delete-any` includes `delete`. */
export function hasScope(user: AccessLimits | undefined, scope: Scope): boolean {
  if (!user?.scopes) return true;
  return user.scopes.includes(scope) || (scope === 'delete' && user.scopes.includes('delete-any'));
}
