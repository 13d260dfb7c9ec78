/**
 * A resumable (tus) upload through the real service (a child process on SQLite and local disk):
 * SIZE_MIB (default 256) sent as PATCHes of PATCH_MIB (default 64), each streamed from a
 * generator (never held whole on either side), then completed into a record; and the same bytes
 * as one raw PUT for comparison. Reports the times and the server's peak RSS growth (VmHWM over
 * its RSS before), and checks the md5 the record reports.
 *
 *   npx ts-node --transpile-only bench/tus.bench.ts      (SIZE_MIB=1024 for a larger run)
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { childServerEnv, compileService, killChildServers, startChildServer } from '../test/harness/child-server';

const MiB = 1024 * 1024;
const SIZE = Number(process.env.SIZE_MIB ?? 256) * MiB;
const PATCH = Number(process.env.PATCH_MIB ?? 64) * MiB;
const TOKEN = 'bench-token';
const BLOCK = randomBytes(MiB);

const kib = (field: string, pid: number) =>
  Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);

/** The bench's bytes from `from` to `to`: a varying pattern, made as they are sent. */
function* bytes(from: number, to: number): Generator<Buffer> {
  for (let at = from; at < to;) {
    const block = Math.floor(at / MiB);
    const chunk = Buffer.from(BLOCK.subarray(at % MiB, Math.min(MiB, to - block * MiB)));
    if (at % MiB === 0) chunk.writeUInt32LE(block, 0);
    yield chunk;
    at += chunk.length;
  }
}

function send(url: string, method: string, headers: Record<string, string>, body?: Iterable<Buffer>) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }>((resolve, reject) => {
    const req = http.request(url, { method, headers: { Authorization: `Bearer ${TOKEN}`, ...headers } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    (async () => {
      for (const chunk of body ?? []) if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
      req.end();
    })().catch(reject);
  });
}

async function main(): Promise<void> {
  const expected = createHash('md5');
  for (const chunk of bytes(0, SIZE)) expected.update(chunk);
  const md5 = expected.digest('hex');
  const service = await compileService();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tus-bench-'));
  const { dataDir, env } = childServerEnv(
    'tus-bench-',
    { storages: { 'storages.Default': { type: 'storages.LocalType', root } } },
    TOKEN,
    { MAX_UPLOAD_SIZE: String(SIZE * 2), LOG_LEVEL: 'warn', DB_URL: '' },
  );
  const server = await startChildServer(service, { env, logFile: path.join(dataDir, 'server.log') });
  // The server is this process's only child (the build runs in-process).
  const pid = Number(fs.readFileSync(`/proc/self/task/${process.pid}/children`, 'utf8').trim().split(/\s+/).pop());
  try {
    const before = kib('VmRSS', pid);
    const started = Date.now();
    const meta = `name ${Buffer.from('bench/tus.bin').toString('base64')}`;
    const created = await send(`${server.url}/storage/tus`, 'POST', {
      'Tus-Resumable': '1.0.0',
      'Upload-Length': String(SIZE),
      'Upload-Metadata': meta,
    });
    const location = `${server.url}${created.headers.location}`;
    let last = created;
    for (let at = 0; at < SIZE; at += PATCH) {
      const to = Math.min(SIZE, at + PATCH);
      last = await send(
        location,
        'PATCH',
        {
          'Tus-Resumable': '1.0.0',
          'Content-Type': 'application/offset+octet-stream',
          'Upload-Offset': String(at),
          'Content-Length': String(to - at),
        },
        bytes(at, to),
      );
      if (last.status !== 204) throw new Error(`PATCH at ${at}: ${last.status} ${last.text}`);
    }
    const tusMs = Date.now() - started;
    const record = JSON.parse(decodeURIComponent(String(last.headers['storage-record']))) as { md5: string };
    if (record.md5 !== md5) throw new Error(`md5 ${record.md5}, expected ${md5}`);
    const peak = kib('VmHWM', pid);
    const putStarted = Date.now();
    const put = await send(
      `${server.url}/storage/files/bench/put.bin`,
      'PUT',
      { 'Content-Type': 'application/octet-stream', 'Content-Length': String(SIZE) },
      bytes(0, SIZE),
    );
    if (put.status !== 201) throw new Error(`PUT: ${put.status} ${put.text}`);
    const putMs = Date.now() - putStarted;
    const mib = SIZE / MiB;
    console.log(
      `tus: ${mib} MiB in ${SIZE / PATCH} PATCHes + completion: ${(tusMs / 1000).toFixed(1)} s ` +
        `(${(mib / (tusMs / 1000)).toFixed(0)} MiB/s); one raw PUT: ${(putMs / 1000).toFixed(1)} s ` +
        `(${(mib / (putMs / 1000)).toFixed(0)} MiB/s); server peak RSS ${(peak / 1024).toFixed(0)} MiB, ` +
        `${((peak - before) / 1024).toFixed(0)} MiB over its RSS before (${(before / 1024).toFixed(0)} MiB)`,
    );
  } finally {
    await killChildServers();
    service.remove();
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
