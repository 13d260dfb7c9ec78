/**
 * The baseline: a bare `node:http` server doing only the disk I/O the service does, nothing else
 * (no records, no hashing, no framework). Files live flat in DIR.
 *
 * - `GET /f/{name}`: open, one fstat, stream the file (a buffer sized to the file, at most
 *   1 MiB) with minimal headers: Content-Type, Content-Length, ETag, Last-Modified.
 * - `PUT /f/{name}`: the body to a temp file beside the target, fsync it, rename it over the
 *   target, fsync the folder: the durability the service gives an upload (one fsync per object
 *   plus the folder). 201 with a small JSON answer.
 * - `GET /ready`: 200.
 *
 *   PORT=… DIR=… node -r ts-node/register/transpile-only bench/servers/bare.ts
 */
import { randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';

const DIR = process.env.DIR!;
const MAX_CHUNK = 1024 * 1024;

async function serveFile(file: string, res: http.ServerResponse): Promise<void> {
  const handle = await fsp.open(file, 'r');
  try {
    const stat = await handle.stat();
    res.writeHead(200, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': stat.size,
      ETag: `"${stat.size.toString(16)}-${stat.mtimeMs.toString(16)}"`,
      'Last-Modified': stat.mtime.toUTCString(),
    });
    if (stat.size === 0) {
      res.end();
      return;
    }
    const highWaterMark = Math.min(stat.size, MAX_CHUNK);
    await pipeline(handle.createReadStream({ start: 0, end: stat.size - 1, highWaterMark, autoClose: false }), res);
  } finally {
    await handle.close();
  }
}

async function storeFile(file: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const temp = path.join(DIR, `.tmp.${randomUUID()}`);
  const handle = await fsp.open(temp, 'w');
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      await handle.write(chunk);
      size += chunk.length;
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fsp.rename(temp, file);
  const dir = await fsp.open(DIR, 'r');
  await dir.sync().finally(() => dir.close());
  res.writeHead(201, { 'Content-Type': 'application/json' }).end(JSON.stringify({ name: path.basename(file), size }));
}

function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = req.url ?? '/';
  if (url === '/ready') return Promise.resolve(void res.end('ok'));
  const name = decodeURIComponent(url.replace(/^\/f\//, '').replace(/\?.*$/, ''));
  if (!/^[\w.-]+$/.test(name)) return Promise.resolve(void res.writeHead(400).end());
  const file = path.join(DIR, name);
  if (req.method === 'PUT') return storeFile(file, req, res);
  return serveFile(file, res);
}

http
  .createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
