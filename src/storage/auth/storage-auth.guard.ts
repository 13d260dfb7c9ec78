import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { IS_PUBLIC_KEY, STORAGE_AUTH_GUARD } from './auth.constants';

/**
 * What the storage controllers use: lets `@Public()` routes through and hands every other
 * request to the configured guard (`ApiTokenGuard` unless the host supplies its own). A
 * `@Public({ identify: true })` route that is sent an `Authorization` header has it checked too
 * (a wrong token is a 401, not a silent downgrade to anonymous), so that it knows its caller:
 * thumbnails of any size and no public rate limit for token holders.
 */
@Injectable()
export class StorageAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(STORAGE_AUTH_GUARD) private readonly delegate: CanActivate,
  ) {}

  canActivate(context: ExecutionContext): ReturnType<CanActivate['canActivate']> {
    const isPublic = this.reflector.getAllAndOverride<boolean | 'identify'>(IS_PUBLIC_KEY, [
      context.getHandler(),
      context.getClass(),
    ]);
    const sent = context.switchToHttp().getRequest<Request>().headers.authorization !== undefined;
    const anonymous = isPublic === true || (isPublic === 'identify' && !sent);
    return anonymous ? true : this.delegate.canActivate(context);
  }
}
