/** Load with autocannon from the bench process: each server under test is another process. */
import autocannon from 'autocannon';

export interface LoadOptions {
  url: string;
  connections: number;
  seconds: number;
  method?: 'GET' | 'PUT' | 'POST';
  headers?: Record<string, string>;
  body?: Buffer;
  /** A new path for each request (uploads to distinct keys, random records). */
  nextPath?: () => string;
}

export interface LoadResult {
  /** Successful (2xx) requests per second. */
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Requests that failed: non-2xx answers, connection errors and timeouts. */
  failed: number;
  total: number;
}

export async function load(options: LoadOptions): Promise<LoadResult> {
  const { nextPath } = options;
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.seconds,
    method: options.method ?? 'GET',
    headers: options.headers,
    body: options.body,
    timeout: 30,
    requests: nextPath
      ? [
          {
            setupRequest: (request) => ({ ...request, path: nextPath() }),
          },
        ]
      : undefined,
  });
  const ok = result['2xx'];
  return {
    perSecond: ok / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    failed: result.non2xx + result.errors + result.timeouts,
    total: ok + result.non2xx,
  };
}
