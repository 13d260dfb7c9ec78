import * as http from 'node:http';

export interface OpenUpload {
  /** Sends `chunk` and resolves once it is handed to the socket. */
  write(chunk: Buffer): Promise<void>;
  /** Sends `last` (if any), ends the body and resolves with the answer. */
  finish(last?: Buffer): Promise<{ status: number; body: string }>;
  /** Drops the connection mid-body, as a client that goes away does; resolves once it is closed. */
  abort(): Promise<void>;
}

/**
 * An upload request whose body the test sends piece by piece: chunked (no `Content-Length`)
 * unless `headers` declares one. For uploads that must be in flight while something else
 * happens (a second upload commits, the client goes away).
 */
export function openUpload(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): OpenUpload {
  const req = http.request(`${base}${path}`, { method, agent: false, headers: { Connection: 'close', ...headers } });
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
  answer.catch(() => undefined); // an aborted request has no answer; only `finish` awaits one
  req.flushHeaders();
  return {
    write: (chunk) => new Promise((resolve, reject) => req.write(chunk, (err) => (err ? reject(err) : resolve()))),
    finish: (last) => {
      req.end(last);
      return answer;
    },
    abort: () =>
      new Promise((resolve) => {
        req.once('close', () => resolve());
        req.destroy();
      }),
  };
}
