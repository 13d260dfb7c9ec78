/**
 * A 1 GiB file through the real service (built `dist/main.js`, a child process): raw PUT,
 * multipart POST, and GET, each hashed on the client and compared. The server's peak RSS
 * (VmHWM) must stay within 100 MiB of its RSS before the transfers. A bare Node server doing
 * the same disk I/O (write + fsync, 1 MiB reads; no hashing, no records) runs in the same script
 * as the throughput baseline; the ratios are reported, not asserted (this machine is shared).
 *
 *   npm run bench:big            (SIZE_MIB=256 npm run bench:big for a quicker run)
 *
 * CI runs it as a check (it fails on a wrong hash or too much RSS); `npm run bench` measures the
 * same transfers against the bare server in interleaved rounds (bench/scenarios/big.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, promises as fsp, rmSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { freePort, procStatusKiB, TOKEN } from './processes';

const SIZE = Number(process.env.SIZE_MIB ?? 1024) * 1024 * 1024;
const LIMIT_MIB = 100;

const BLOCK = randomBytes(1024 * 1024);

/** Writes SIZE bytes of a varying pattern to `out`, with backpressure; returns their md5. */
async function writeBody(out: NodeJS.WritableStream, before = '', after = ''): Promise<string> {
  const hash = createHash('md5');
  if (before) out.write(before);
  for (let sent = 0, i = 0; sent < SIZE; i++) {
    const chunk = Buffer.from(BLOCK.subarray(0, Math.min(BLOCK.length, SIZE - sent)));
    chunk.writeUInt32LE(i, 0);
    hash.update(chunk);
    sent += chunk.length;
    if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
  }
  if (after) out.write(after);
  out.end();
  return hash.digest('hex');
}

function send(
  port: number,
  method: string,
  url: string,
  headers: Record<string, string | number>,
  body: (req: http.ClientRequest) => Promise<string>,
) {
  return new Promise<{ status: number; text: string; md5: string; seconds: number }>((resolve, reject) => {
    const started = process.hrtime.bigint();
    let md5 = '';
    const req = http.request(
      { host: '127.0.0.1', port, method, path: url, headers: { Authorization: `Bearer ${TOKEN}`, ...headers } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text, md5, seconds: Number(process.hrtime.bigint() - started) / 1e9 }),
        );
      },
    );
    req.on('error', reject);
    body(req).then((m) => (md5 = m), reject);
  });
}

function download(port: number, url: string) {
  return new Promise<{ status: number; md5: string; bytes: number; seconds: number }>((resolve, reject) => {
    const started = process.hrtime.bigint();
    http
      .get({ host: '127.0.0.1', port, path: url, headers: { Authorization: `Bearer ${TOKEN}` } }, (res) => {
        const hash = createHash('md5');
        let bytes = 0;
        res.on('data', (c: Buffer) => {
          bytes += c.length;
          hash.update(c);
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            md5: hash.digest('hex'),
            bytes,
            seconds: Number(process.hrtime.bigint() - started) / 1e9,
          }),
        );
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

async function waitReady(port: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error('the service exited during start-up');
    const ok = await new Promise<boolean>((resolve) => {
      http
        .get(
          { host: '127.0.0.1', port, path: '/storage/files?limit=1', headers: { Authorization: `Bearer ${TOKEN}` } },
          (res) => {
            res.resume();
            resolve(res.statusCode === 200);
          },
        )
        .on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the service did not start');
}

/** The baseline: a bare Node server doing the same disk I/O (write + fsync, 1 MiB reads), nothing else. */
async function bareServer(dir: string): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const file = path.join(dir, 'bare.bin');
    if (req.method === 'PUT') {
      pipeline(req, createWriteStream(file))
        .then(() => fsp.open(file, 'r+'))
        .then(async (h) => {
          await h.sync();
          await h.close();
          res.writeHead(201).end();
        })
        .catch(() => res.writeHead(500).end());
    } else {
      pipeline(createReadStream(file, { highWaterMark: 1024 * 1024 }), res).catch(() => undefined);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'storage-bench-'));
  const port = await freePort();
  const child = spawn(process.execPath, ['dist/main.js'], {
    env: {
      ...process.env,
      PORT: String(port),
      DATA_DIR: dataDir,
      API_TOKENS: `bench:${TOKEN}`,
      MAX_UPLOAD_SIZE: `${SIZE + 1}`,
      DB_URL: '',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const failures: string[] = [];
  try {
    await waitReady(port, child);
    // Warm up every path once (the md5 worker starts with the first large or unsized upload), so
    // one-time initialisation is not counted as growth.
    await send(port, 'PUT', '/storage/files/warm.bin', { 'Content-Length': 4 }, async (req) => (req.end('warm'), ''));
    await send(
      port,
      'PUT',
      '/storage/files/warm2.bin',
      { 'Transfer-Encoding': 'chunked' },
      async (req) => (req.end('warm'), ''),
    );
    await download(port, '/storage/files/warm.bin');
    // The baseline first: if the disk's cache fills up, it is the service that pays for it.
    const bare = await bareServer(dataDir);
    const barePort = (bare.address() as AddressInfo).port;
    const barePut = await send(barePort, 'PUT', '/', { 'Content-Length': SIZE }, (req) => writeBody(req));
    const bareGet = await download(barePort, '/');
    bare.close();

    const baseline = procStatusKiB(child.pid!, 'VmRSS');
    const mib = (SIZE / 1024 / 1024).toFixed(0);

    const put = await send(
      port,
      'PUT',
      '/storage/files/big/raw.bin',
      { 'Content-Length': SIZE, 'Content-Type': 'application/octet-stream' },
      (req) => writeBody(req),
    );
    const putRecord = JSON.parse(put.text);
    if (put.status !== 201 || putRecord.md5 !== put.md5 || putRecord.size !== SIZE)
      failures.push(`PUT: ${put.status} ${put.text.slice(0, 200)}`);

    const boundary = `----bench${randomBytes(8).toString('hex')}`;
    const head = `--${boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\nbig/multipart.bin\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="multipart.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`;
    const tail = `\r\n--${boundary}--\r\n`;
    const post = await send(
      port,
      'POST',
      '/storage/files',
      {
        'Content-Type': `multipart/form-data; boundary=${boundary}`,
        'Content-Length': SIZE + Buffer.byteLength(head) + Buffer.byteLength(tail),
      },
      (req) => writeBody(req, head, tail),
    );
    const postRecord = JSON.parse(post.text);
    if (post.status !== 201 || postRecord.md5 !== post.md5 || postRecord.size !== SIZE)
      failures.push(`POST: ${post.status} ${post.text.slice(0, 200)}`);

    const get = await download(port, '/storage/files/big/raw.bin');
    if (get.status !== 200 || get.md5 !== put.md5 || get.bytes !== SIZE)
      failures.push(`GET: ${get.status}, md5 ${get.md5} vs ${put.md5}`);
    const get2 = await download(port, '/storage/files/big/multipart.bin');
    if (get2.status !== 200 || get2.md5 !== post.md5) failures.push(`GET multipart: md5 ${get2.md5} vs ${post.md5}`);

    const peak = procStatusKiB(child.pid!, 'VmHWM');
    const growthMiB = (peak - baseline) / 1024;

    const rate = (s: number) => `${(SIZE / 1024 / 1024 / s).toFixed(0)} MiB/s`;
    console.log(`size: ${mib} MiB`);
    console.log(
      `PUT raw:        ${put.seconds.toFixed(2)} s (${rate(put.seconds)}); bare Node ${rate(barePut.seconds)}; ratio ${(barePut.seconds / put.seconds).toFixed(2)}`,
    );
    console.log(
      `POST multipart: ${post.seconds.toFixed(2)} s (${rate(post.seconds)}); ratio ${(barePut.seconds / post.seconds).toFixed(2)}`,
    );
    console.log(
      `GET:            ${get.seconds.toFixed(2)} s (${rate(get.seconds)}); bare Node ${rate(bareGet.seconds)}; ratio ${(bareGet.seconds / get.seconds).toFixed(2)}`,
    );
    console.log(
      `server RSS: ${(baseline / 1024).toFixed(1)} MiB before, peak ${(peak / 1024).toFixed(1)} MiB, growth ${growthMiB.toFixed(1)} MiB (limit ${LIMIT_MIB})`,
    );
    console.log(`hashes: upload ${put.md5}, download ${get.md5}`);
    if (growthMiB >= LIMIT_MIB) failures.push(`peak RSS grew by ${growthMiB.toFixed(1)} MiB`);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }
  if (failures.length) {
    console.error(`FAILED:\n${failures.join('\n')}`);
    process.exit(1);
  }
  console.log('bench: 1 passed, 0 failed');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
