import { createHash, timingSafeEqual } from 'node:crypto';

/** The exposition format's content type, as Prometheus expects it. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * True when `METRICS_TOKEN` is unset, or `authorization` is `Bearer <that token>`. Compared in
 * constant time: both sides are hashed first, so neither the length nor a prefix of the token
 * shows in the time an answer takes.
 */
export function metricsAuthorized(authorization: string | undefined, token: string | undefined): boolean {
  if (!token) return true;
  const match = /^Bearer (.+)$/i.exec(authorization ?? '');
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(match?.[1] ?? ''), digest(token)) && match !== null;
}
