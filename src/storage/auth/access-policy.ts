import { Injectable } from '@nestjs/common';
import { StorageError } from '../errors/storage.error';
import { normalizeKey, normalizePrefix } from '../keys/keys';
import type { Scope } from '../options/api-tokens.options';
import { StorageRegistry } from '../registry/storage-registry';
import { hasScope, type StorageUser } from './storage-user';

/**
 * The checks that need the key or the instance, which route metadata cannot know: a caller's
 * scope, instances and key prefix against one key, a listing, or a removal. Every refusal is a
 * 403 `E_FORBIDDEN` that names the caller's limit, never another user's data.
 */
@Injectable()
export class AccessPolicy {
  constructor(private readonly registry: StorageRegistry) {}

  /**
   * Throws unless `user` may `scope` the key `file` of `storage` (the default instance when
   * absent). Returns the instance's name and the normalized key.
   */
  check(user: StorageUser | undefined, scope: Scope, storage: string | undefined, file: string) {
    const instance = this.instance(user, scope, storage);
    const key = normalizeKey(file);
    if (!user?.prefix || key.startsWith(user.prefix)) return { storage: instance, key };
    throw StorageError.forbidden(`this token may only use keys under '${user.prefix}'`);
  }

  /** Throws unless `user` has `scope` and may use `storage`; returns the instance's name. */
  instance(user: StorageUser | undefined, scope: Scope, storage: string | undefined): string {
    if (!hasScope(user, scope)) throw StorageError.forbidden(`this token has no '${scope}' scope`);
    const name = this.registry.get(storage).name;
    if (user?.storages && !user.storages.includes(name)) {
      throw StorageError.forbidden(`this token may not use ${name}`);
    }
    return name;
  }

  /**
   * The prefix a listing of `prefix` by `user` runs with: the caller's own when none is asked
   * for or the asked one is wider (`alice` for `alice/`), the asked one inside it, else 403.
   */
  listPrefix(user: StorageUser | undefined, storage: string | undefined, prefix: string | undefined): string {
    this.instance(user, 'read', storage);
    const asked = normalizePrefix(prefix);
    if (!user?.prefix || asked.startsWith(user.prefix)) return asked;
    if (user.prefix.startsWith(asked)) return user.prefix;
    throw StorageError.forbidden(`this token may only list keys under '${user.prefix}'`);
  }

  /** Only what `user` may see of a listing (an exact, case-sensitive prefix match on every database). */
  visible<T extends { name: string }>(user: StorageUser | undefined, items: T[]): T[] {
    const prefix = user?.prefix;
    return prefix ? items.filter((item) => item.name.startsWith(prefix)) : items;
  }

  /**
   * Whose references a delete by `user` may remove: undefined for anyone's (`delete-any`, or a
   * caller without limits), else only the caller's own (`uploadUser` equal to its name).
   */
  removableBy(user: StorageUser | undefined): string | undefined {
    return hasScope(user, 'delete-any') ? undefined : (user?.name ?? '');
  }
}
