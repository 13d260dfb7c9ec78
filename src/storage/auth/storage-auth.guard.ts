import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { isObservable, lastValueFrom } from 'rxjs';
import { StorageError, StorageErrorCode } from '../errors/storage.error';
import type { Scope } from '../options/api-tokens.options';
import { StorageRegistry, type StorageInstance } from '../registry/storage-registry';
import { SignedDownloads } from '../signing/signed-downloads';
import { AccessPolicy } from './access-policy';
import {
  IS_PUBLIC_KEY,
  READ_ACCESS_KEY,
  REQUIRED_SCOPE_KEY,
  STORAGE_AUTH_GUARD,
  type ReadAccess,
} from './auth.constants';
import { hasScope, requestUser } from './storage-user';

/**
 * What the storage controllers use. `@Public()` routes pass. A read route (`@SignedRead()`,
 * `@PublicPreview()`) passes with a valid signed download URL of its key and instance, and a
 * preview of a public instance passes as it is. Everything else goes to the configured guard
 * (`ApiTokenGuard` unless the host supplies its own), and then the caller it left on `req.user`
 * must have the route's `@RequireScope()`; on a read route also the read scope for this key
 * and instance. Checks that need a key from a body are the controllers' (`AccessPolicy`).
 */
@Injectable()
export class StorageAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(STORAGE_AUTH_GUARD) private readonly delegate: CanActivate,
    private readonly registry: StorageRegistry,
    private readonly downloads: SignedDownloads,
    private readonly access: AccessPolicy,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, targets)) return true;
    const read = this.reflector.getAllAndOverride<ReadAccess | undefined>(READ_ACCESS_KEY, targets);
    const req = context.switchToHttp().getRequest<Request>();
    const query = req.query as Record<string, unknown>;
    if (read === 'preview' || (read === 'signed' && query.sig !== undefined)) {
      const instance = this.quietInstance(query.storage);
      if (read === 'preview' && instance.public) return true;
      if (this.downloads.verify(pathOf(req), instance.name, query)) return true;
    }
    const verdict = this.delegate.canActivate(context);
    if (!(isObservable(verdict) ? await lastValueFrom(verdict) : await verdict)) return false;
    const user = requestUser(req);
    const scope = this.reflector.getAllAndOverride<Scope | undefined>(REQUIRED_SCOPE_KEY, targets);
    if (scope && !hasScope(user, scope)) throw StorageError.forbidden(`this token has no '${scope}' scope`);
    if (read) this.access.check(user, 'read', stringOf(query.storage), pathOf(req));
    return true;
  }

  /**
   * The instance `?storage=` names, for routes anyone may call: an unknown one is refused
   * without listing the configured names, which are not for anonymous callers.
   */
  private quietInstance(storage: unknown): StorageInstance {
    const name = stringOf(storage);
    const instance = typeof storage === 'string' || storage === undefined ? this.registry.find(name) : undefined;
    if (!instance) {
      throw new StorageError(
        StorageErrorCode.UNKNOWN_STORAGE,
        "unknown storage; use the 'storage' of the file's record or URL",
      );
    }
    return instance;
  }
}

/** The `{path}` of a `*path` route (Express 5 hands it over as its decoded segments). */
function pathOf(req: Request): string {
  const value = (req.params as Record<string, unknown>).path;
  return Array.isArray(value) ? value.join('/') : String(value ?? '');
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
