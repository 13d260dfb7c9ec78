import * as http from 'node:http';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** False when the connection ended (or the time ran out) before the body was whole. */
  complete: boolean;
}

/**
 * One HTTP request on its own connection (`Connection: close`), for tests that check bodies
 * against their headers: a body shorter than its `Content-Length` comes back with
 * `complete: false` (the server closes the connection) instead of hanging a keep-alive socket.
 * Rejects only when no response arrives (refused, reset, or `timeoutMs` with no answer).
 */
export function rawRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: Buffer; timeoutMs?: number } = {},
): Promise<RawResponse> {
  const { method = 'GET', headers = {}, body, timeoutMs = 30_000 } = options;
  return new Promise((resolve, reject) => {
    let settled = false;
    let answered = false;
    const req = http.request(url, {
      method,
      agent: false,
      headers: { ...headers, Connection: 'close', ...(body ? { 'Content-Length': String(body.length) } : {}) },
    });
    const timer = setTimeout(() => req.destroy(new Error(`no complete answer within ${timeoutMs} ms`)), timeoutMs);
    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outcome();
    };
    req.on('error', (err) => {
      if (!answered) finish(() => reject(err));
    });
    req.on('response', (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', () => undefined);
      res.on('close', () =>
        finish(() =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
            complete: res.complete,
          }),
        ),
      );
    });
    req.end(body);
  });
}

/** The md5 a strong ETag `"<md5>"` names, or null when the header is missing or not of that shape. */
export function etagMd5(etag: string | string[] | undefined): string | null {
  const match = typeof etag === 'string' ? /^"([0-9a-f]{32})"$/.exec(etag) : null;
  return match ? match[1] : null;
}
