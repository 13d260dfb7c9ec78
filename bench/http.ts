/** Single requests of the bench (set-up, large transfers); load is `load.ts`. */
import * as http from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * One connection per request: a pooled idle socket may have been closed by the server while the
 * bench's event loop was busy (seeding SQLite is synchronous), and reusing it fails the request.
 */
const NO_KEEP_ALIVE = new http.Agent({ keepAlive: false });

export interface Answer {
  status: number;
  text: string;
  seconds: number;
}

/**
 * One request; `body` is a Buffer or a stream (large bodies are streamed, never held). The
 * answer's body is kept as text up to 64 KiB (records, errors); a download is counted only.
 */
export function request(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string | number>;
    body?: Buffer | Readable;
    agent?: http.Agent;
  } = {},
): Promise<Answer & { bytes: number }> {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: options.method ?? 'GET', headers: options.headers, agent: options.agent ?? NO_KEEP_ALIVE },
      (res) => {
        let text = '';
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (text.length < 65536) text += chunk.toString('utf8');
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            text,
            bytes,
            seconds: Number(process.hrtime.bigint() - started) / 1e9,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    const body = options.body;
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else pipeline(body, req).catch(reject);
  });
}

/** Like `request`, but throws unless the status is `expected`; returns the parsed JSON answer. */
export async function expectJson<T = Record<string, unknown>>(
  url: string,
  expected: number,
  options: Parameters<typeof request>[1] = {},
): Promise<T> {
  const answer = await request(url, options);
  if (answer.status !== expected) {
    throw new Error(
      `${options.method ?? 'GET'} ${new URL(url).pathname}: ${answer.status} ${answer.text.slice(0, 300)}`,
    );
  }
  return (answer.text ? JSON.parse(answer.text) : {}) as T;
}
