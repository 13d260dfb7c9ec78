import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { requestUser, type StorageUser } from './storage-user';

/**
 * The caller's user name for `uploadUser`: `req.user.name`, or `username`/`id` as other guards
 * (passport strategies) leave them; undefined on public routes.
 */
export const CurrentUser = createParamDecorator((_data: unknown, context: ExecutionContext): string | undefined => {
  const user = context.switchToHttp().getRequest<{ user?: Record<string, unknown> }>().user;
  const name = user?.name ?? user?.username ?? user?.id;
  return name === undefined || name === null ? undefined : String(name);
});

/** The caller with its limits (`StorageUser`), as the guard left it; undefined on public routes. */
export const Caller = createParamDecorator((_data: unknown, context: ExecutionContext): StorageUser | undefined =>
  requestUser(context.switchToHttp().getRequest<Request>()),
);
