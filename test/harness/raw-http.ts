import * as http from 'node:http';
import * as net from 'node:net';

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

export interface TrickleResult {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** Milliseconds from the last byte sent to the answer's first byte. */
  answeredAfterLastByteMs: number;
  /** Bytes of the body sent before the answer came (or the sending ended). */
  sent: number;
}

/**
 * A slow client on a raw socket: sends the request head, then `body` in `chunkSize` pieces every
 * `intervalMs`, stopping after `stopAfter` bytes (a stalled upload) or at the end; then waits for
 * the answer until the server closes the connection or `timeoutMs` passes. `Content-Length` is
 * the whole body's length whatever is sent.
 */
export function trickleRequest(
  url: string,
  options: {
    method: string;
    headers: Record<string, string>;
    body: Buffer;
    chunkSize: number;
    intervalMs: number;
    stopAfter?: number;
    timeoutMs?: number;
  },
): Promise<TrickleResult> {
  const { method, headers, body, chunkSize, intervalMs, stopAfter = body.length, timeoutMs = 30_000 } = options;
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(target.port), target.hostname);
    const received: Buffer[] = [];
    let sent = 0;
    let lastByteAt = Date.now();
    let firstAnswerAt: number | undefined;
    let timer: NodeJS.Timeout | undefined;
    const deadline = setTimeout(() => socket.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    const head = [
      `${method} ${target.pathname}${target.search} HTTP/1.1`,
      `Host: ${target.host}`,
      'Connection: close',
      `Content-Length: ${body.length}`,
      ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
      '',
      '',
    ].join('\r\n');
    const sendNext = () => {
      if (firstAnswerAt !== undefined || socket.destroyed) return;
      const end = Math.min(sent + chunkSize, stopAfter);
      if (end <= sent) return;
      socket.write(body.subarray(sent, end));
      sent = end;
      lastByteAt = Date.now();
      timer = setTimeout(sendNext, intervalMs);
    };
    socket.on('connect', () => {
      socket.write(head);
      lastByteAt = Date.now();
      timer = setTimeout(sendNext, intervalMs);
    });
    socket.on('data', (chunk: Buffer) => {
      firstAnswerAt ??= Date.now();
      received.push(chunk);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      clearTimeout(deadline);
      const raw = Buffer.concat(received);
      const split = raw.indexOf('\r\n\r\n');
      if (firstAnswerAt === undefined || split < 0) return reject(new Error(`no answer (sent ${sent} bytes)`));
      const [statusLine, ...lines] = raw.subarray(0, split).toString('latin1').split('\r\n');
      const parsed: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        parsed[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      let rest: Buffer = raw.subarray(split + 4);
      if (parsed['transfer-encoding'] === 'chunked') rest = dechunk(rest);
      resolve({
        status: Number(statusLine.split(' ')[1]),
        headers: parsed,
        body: rest,
        answeredAfterLastByteMs: firstAnswerAt - lastByteAt,
        sent,
      });
    });
  });
}

function dechunk(data: Buffer): Buffer {
  const out: Buffer[] = [];
  for (let at = 0; at < data.length;) {
    const eol = data.indexOf('\r\n', at);
    if (eol < 0) break;
    const size = parseInt(data.subarray(at, eol).toString('latin1'), 16);
    if (!size) break;
    out.push(data.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}
