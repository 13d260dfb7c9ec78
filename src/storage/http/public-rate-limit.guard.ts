import { Inject, Injectable, SetMetadata, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  ThrottlerGuard,
  type ThrottlerLimitDetail,
  type ThrottlerModuleOptions,
  type ThrottlerStorage,
} from '@nestjs/throttler';
import { StorageError, StorageErrorCode } from '../errors/storage.error';
import type { ResolvedRateLimitOptions } from '../options/rate-limit.options';
import { StorageMetrics } from '../metrics/storage-metrics';

/** The throttler options of the public routes (`publicRateLimits`), one per module registration. */
export const PUBLIC_RATE_LIMITS = Symbol('PUBLIC_RATE_LIMITS');
/** Where the public routes' counts live: in memory, or Redis (`RedisThrottlerStorage`). */
export const PUBLIC_RATE_LIMIT_STORAGE = Symbol('PUBLIC_RATE_LIMIT_STORAGE');

type RouteGroup = 'preview' | 'thumbnail';
const ROUTE_GROUP = 'storage:rateLimitGroup';

/** Puts a public route under the `rateLimit.{group}` limit. */
export const RateLimited = (group: RouteGroup): MethodDecorator => SetMetadata(ROUTE_GROUP, group);

function groupOf(context: ExecutionContext): RouteGroup | undefined {
  return Reflect.getMetadata(ROUTE_GROUP, context.getHandler()) as RouteGroup | undefined;
}

/** One throttler whose limit and window follow the route's group; routes without one are not limited. */
export function publicRateLimits(limits: ResolvedRateLimitOptions): ThrottlerModuleOptions {
  const of = (context: ExecutionContext) => {
    const group = groupOf(context);
    return group ? limits[group] : false;
  };
  return {
    throttlers: [
      {
        limit: (context) => (of(context) || { limit: 1 }).limit,
        ttl: (context) => (of(context) || { ttlSeconds: 1 }).ttlSeconds * 1000,
        skipIf: (context) => !of(context),
      },
    ],
  };
}

/**
 * `@nestjs/throttler` on the module's public routes only (bound with `@UseGuards` on their
 * controller, never as `APP_GUARD`, so a host's routes are untouched), with the module's own
 * options and storage under its own tokens, so that a host's `ThrottlerModule` neither changes it
 * nor is changed by it. Clients are counted by IP; a caller the auth guard identified (a valid
 * token) is not limited here. Past the limit: 429 `E_TOO_MANY_REQUESTS` with `Retry-After`.
 */
@Injectable()
export class PublicRateLimitGuard extends ThrottlerGuard {
  constructor(
    @Inject(PUBLIC_RATE_LIMITS) options: ThrottlerModuleOptions,
    @Inject(PUBLIC_RATE_LIMIT_STORAGE) storage: ThrottlerStorage,
    reflector: Reflector,
    private readonly metrics: StorageMetrics,
  ) {
    super(options, storage, reflector);
  }

  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    return context.switchToHttp().getRequest<{ user?: unknown }>().user !== undefined;
  }

  protected override generateKey(context: ExecutionContext, tracker: string): string {
    return `${groupOf(context) ?? 'public'}:${tracker}`;
  }

  protected override async throwThrottlingException(
    context: ExecutionContext,
    detail: ThrottlerLimitDetail,
  ): Promise<void> {
    if (groupOf(context) === 'thumbnail') this.metrics.thumbnailRefusals.inc({ reason: 'rate_limited' });
    throw new StorageError(
      StorageErrorCode.TOO_MANY_REQUESTS,
      `too many requests from this address; retry in ${detail.timeToBlockExpire} s, or send an API token`,
      { retryAfterSeconds: detail.timeToBlockExpire },
    );
  }
}
