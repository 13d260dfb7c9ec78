import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { timingSafeEqual, createHash } from 'node:crypto';
import type { Request } from 'express';
import { StorageError, StorageErrorCode } from '../errors/storage.error';
import { InjectStorageOptions, type ResolvedStorageOptions } from '../options/resolved-options';

/** Who made the request, as guards leave it on `req.user`. */
export interface StorageUser {
  name: string;
}

/**
 * The default guard: `Authorization: Bearer <token>` against `apiTokens`. The matching token's
 * name becomes `req.user.name`. Tokens are compared by their sha256 in constant time.
 */
@Injectable()
export class ApiTokenGuard implements CanActivate {
  private readonly tokens: Array<{ name: string; digest: Buffer }>;

  constructor(@InjectStorageOptions() options: ResolvedStorageOptions) {
    this.tokens = Object.entries(options.given.apiTokens ?? {}).map(([name, token]) => ({
      name,
      digest: sha256(token),
    }));
  }

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<Request & { user?: StorageUser }>();
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) {
      throw new StorageError(StorageErrorCode.UNAUTHORIZED, 'send an API token as "Authorization: Bearer <token>"');
    }
    const digest = sha256(match[1]);
    let user: string | undefined;
    for (const token of this.tokens) {
      if (timingSafeEqual(token.digest, digest)) user = token.name;
    }
    if (!user) throw new StorageError(StorageErrorCode.UNAUTHORIZED, 'the API token is not valid');
    req.user = { name: user };
    return true;
  }
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
