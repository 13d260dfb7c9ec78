import { Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';

type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;
import { StorageError, StorageErrorCode } from '../errors/storage.error';

/**
 * One fixed window per key: count the hit, start the window on the first, and past `limit` block
 * the key for `blockDuration` (a new window starts after it). Atomic, so replicas share counts.
 * KEYS: hits, block; ARGV: ttl ms, limit, block ms. Returns hits, window ms left, blocked, block ms left.
 */
const SCRIPT = `
local blocked = redis.call('PTTL', KEYS[2])
if blocked > 0 then
  return { tonumber(ARGV[2]) + 1, blocked, 1, blocked }
end
local hits = redis.call('INCR', KEYS[1])
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  left = tonumber(ARGV[1])
end
if hits > tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  redis.call('DEL', KEYS[1])
  return { hits, left, 1, tonumber(ARGV[3]) }
end
return { hits, left, 0, 0 }
`;

/** The part of an ioredis client used here (ioredis is an optional peer, loaded when configured). */
interface RedisClient {
  eval(script: string, keys: number, ...args: Array<string | number>): Promise<unknown>;
  readonly status: string;
  on(event: 'error', listener: (err: Error) => void): unknown;
  once(event: 'ready', listener: () => void): unknown;
  disconnect(): void;
}

const WARN_EVERY_MS = 60_000;

/**
 * `ThrottlerStorage` in Redis (`rateLimit.redis`), so that every replica counts one client's
 * requests together. When Redis cannot be reached, requests are let through (logged at most once a
 * minute): the rate limit is one defence among several (presets, the derivative cap, the fair
 * render queue), and a Redis outage must not take the public routes down with it.
 */
export class RedisRateLimitStorage implements ThrottlerStorage, OnModuleInit, OnApplicationShutdown {
  private readonly redis: RedisClient;
  private readonly logger = new Logger('PublicRateLimit');
  private warnedAt = 0;

  constructor(
    url: string,
    private readonly keyPrefix: string,
  ) {
    this.redis = connect(url);
    this.redis.on('error', (err) => this.warn(err));
  }

  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    const base = `${this.keyPrefix}${throttlerName}:${key}`;
    try {
      const [hits, left, blocked, blockLeft] = (await this.redis.eval(
        SCRIPT,
        2,
        base,
        `${base}:block`,
        ttl,
        limit,
        blockDuration,
      )) as number[];
      return {
        totalHits: hits,
        timeToExpire: Math.ceil(left / 1000),
        isBlocked: blocked === 1,
        timeToBlockExpire: Math.ceil(blockLeft / 1000),
      };
    } catch (err) {
      this.warn(err);
      return { totalHits: 0, timeToExpire: Math.ceil(ttl / 1000), isBlocked: false, timeToBlockExpire: 0 };
    }
  }

  /** Waits (a second at most) for the connection, so that counting starts with the first request. */
  async onModuleInit(): Promise<void> {
    if (this.redis.status === 'ready') return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000);
      this.redis.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Closes the connection and stops reconnecting (each count was written when it was made). */
  onApplicationShutdown(): void {
    this.redis.disconnect();
  }

  private warn(err: unknown): void {
    if (Date.now() - this.warnedAt < WARN_EVERY_MS) return;
    this.warnedAt = Date.now();
    this.logger.warn(`rate limit counts in Redis are unavailable, requests are not limited: ${String(err)}`);
  }
}

function connect(url: string): RedisClient {
  let Redis: new (url: string, options: Record<string, unknown>) => RedisClient;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    Redis = (require('ioredis') as { Redis: typeof Redis }).Redis;
  } catch (err) {
    throw new StorageError(
      StorageErrorCode.INVALID_CONFIG,
      'rateLimit.redis needs the ioredis package, which is not installed here; install with: npm install ioredis',
      {},
      { cause: err },
    );
  }
  // Fail fast rather than hold requests while Redis is away: no queue while disconnected (so the
  // first requests after start-up may pass uncounted), one retry, short timeouts.
  return new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 1000,
    disconnectTimeout: 200,
    commandTimeout: 500,
  });
}
