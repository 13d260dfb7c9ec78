import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { timingSafeEqual, createHash } from 'node:crypto';
import type { Request } from 'express';
import { StorageError, StorageErrorCode } from '../errors/storage.error';
import type { ResolvedApiToken } from '../options/api-tokens.options';
import { InjectStorageOptions, type ResolvedStorageOptions } from '../options/resolved-options';
import type { StorageUser } from './storage-user';

export type { StorageUser } from './storage-user';

/**
 * The default guard: `Authorization: Bearer <token>` against `apiTokens`. The matching token's
 * name and limits (scopes, instances, key prefix) become `req.user`. Tokens are compared by their
 * sha256 in constant time.
 */
@Injectable()
export class ApiTokenGuard implements CanActivate {
  private readonly tokens: Array<{ entry: ResolvedApiToken; digest: Buffer }>;

  constructor(@InjectStorageOptions() options: ResolvedStorageOptions) {
    this.tokens = options.apiTokens.map((entry) => ({ entry, digest: sha256(entry.token) }));
  }

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<Request & { user?: StorageUser }>();
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) {
      throw new StorageError(StorageErrorCode.UNAUTHORIZED, 'send an API token as "Authorization: Bearer <token>"');
    }
    const digest = sha256(match[1]);
    let found: ResolvedApiToken | undefined;
    for (const token of this.tokens) {
      if (timingSafeEqual(token.digest, digest)) found = token.entry;
    }
    if (!found) throw new StorageError(StorageErrorCode.UNAUTHORIZED, 'the API token is not valid');
    const { name, scopes, storages, prefix } = found;
    req.user = {
      name,
      ...(scopes ? { scopes } : {}),
      ...(storages ? { storages } : {}),
      ...(prefix ? { prefix } : {}),
    };
    return true;
  }
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
