import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { IS_PUBLIC_KEY, STORAGE_AUTH_GUARD } from './auth.constants';

/**
 * What the storage controllers use: lets `@Public()` routes through and hands every other
 * request to the configured guard (`ApiTokenGuard` unless the host supplies its own).
 */
@Injectable()
export class StorageAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(STORAGE_AUTH_GUARD) private readonly delegate: CanActivate,
  ) {}

  canActivate(context: ExecutionContext): ReturnType<CanActivate['canActivate']> {
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, [
      context.getHandler(),
      context.getClass(),
    ]);
    return isPublic ? true : this.delegate.canActivate(context);
  }
}
