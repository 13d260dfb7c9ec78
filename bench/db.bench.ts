/**
 * The database side of the service under load, against a bare `node:http` server doing the
 * same disk work in the same run (interleaved rounds, medians). Runs the built `dist/main.js`.
 *
 *   npx nest build && npx ts-node --transpile-only bench/db.bench.ts uploads|list|sweep|soak [--db mysql]
 *
 * - uploads: 4 KiB PUTs to new keys, 16 connections (uploads/s, ratio to bare: write + fsync + rename).
 * - list: listing p99 (first and last page) and meta p99 with N records (RECORDS, default 1000).
 * - sweep: SWEEP_FILES (100000) expired records with their objects on disk, one admin sweep (files/s).
 * - soak: SOAK_SECONDS (300) of mixed traffic at 32 connections; requests/s per minute.
 * With `--db mysql`, `BENCH_DB_URL` (default mysql://root@127.0.0.1:3306/bench_perfdb) is emptied first.
 */
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

const TOKEN = 'bench-token';
const AUTH = { Authorization: `Bearer ${TOKEN}` };
const STORE = 'storages.Default';
const mysqlUrl =
  process.argv.includes('--db') && process.argv[process.argv.indexOf('--db') + 1] === 'mysql'
    ? (process.env.BENCH_DB_URL ?? 'mysql://root@127.0.0.1:3306/bench_perfdb')
    : '';
const BODY = randomBytes(4096);

type Row = unknown[];
interface Db {
  exec(sql: string, params?: unknown[]): Promise<void>;
  close(): Promise<void>;
}

async function openDb(dataDir: string): Promise<Db> {
  if (mysqlUrl) {
    const mysql = await import('mysql2/promise');
    const conn = await mysql.createConnection(mysqlUrl);
    return { exec: async (sql, params) => void (await conn.query(sql, params)), close: () => conn.end() };
  }
  const Sqlite = (await import('better-sqlite3')).default;
  const db = new Sqlite(path.join(dataDir, 'storage.sqlite'));
  db.pragma('journal_mode = WAL');
  const statements = new Map<string, { run(...params: unknown[]): unknown }>();
  const prepare = (sql: string) => statements.get(sql) ?? statements.set(sql, db.prepare(sql)).get(sql)!;
  return { exec: async (sql, params = []) => void prepare(sql).run(...params), close: async () => void db.close() };
}

async function resetMysql(): Promise<void> {
  if (!mysqlUrl) return;
  const url = new URL(mysqlUrl);
  const name = url.pathname.slice(1);
  url.pathname = '/';
  const mysql = await import('mysql2/promise');
  const conn = await mysql.createConnection(url.toString());
  await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
  await conn.query(`CREATE DATABASE \`${name}\``);
  await conn.end();
}

async function freePort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

async function startService(dataDir: string): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const nodeArgs = process.env.SERVICE_NODE_ARGS ? process.env.SERVICE_NODE_ARGS.split(' ') : [];
  const child = spawn(process.execPath, [...nodeArgs, 'dist/main.js'], {
    env: {
      ...process.env,
      PORT: String(port),
      DATA_DIR: dataDir,
      API_TOKENS: `bench:${TOKEN}`,
      DB_URL: mysqlUrl,
      LOG_LEVEL: 'warn',
      SWEEP_ENABLED: 'false',
      PURGE_INTERVAL_SECONDS: '0',
      PUBLIC_RATE_LIMIT: '0',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error('the service exited during start-up');
    const ok = await new Promise<boolean>((resolve) =>
      http
        .get({ host: '127.0.0.1', port, path: '/storage/files?limit=1', headers: AUTH }, (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        })
        .on('error', () => resolve(false)),
    );
    if (ok) return { port, child };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the service did not start');
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

/** A bare server doing the disk work of an upload: a temp file, written, fsynced, renamed. */
async function bareServer(dir: string): Promise<http.Server> {
  let n = 0;
  const server = http.createServer((req, res) => {
    const target = path.join(dir, `bare-${n++}`);
    const temp = `${target}.tmp`;
    const out = fs.createWriteStream(temp);
    req.pipe(out);
    out.on('finish', () => {
      fs.open(temp, 'r+', (err, fd) => {
        if (err) return void res.writeHead(500).end();
        fs.fdatasync(fd, () =>
          fs.close(fd, () => fs.rename(temp, target, () => res.writeHead(201).end('{"ok":true}'))),
        );
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return server;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function cannon(opts: autocannon.Options): Promise<autocannon.Result> {
  return autocannon({ duration: 8, ...opts });
}

async function uploads(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'perfdb-bench-'));
  const { port, child } = await startService(dataDir);
  const bare = await bareServer(fs.mkdtempSync(path.join(dataDir, 'bare-')));
  const barePort = (bare.address() as AddressInfo).port;
  let n = 0;
  const put = (p: number, prefix: string) =>
    cannon({
      url: `http://127.0.0.1:${p}`,
      connections: 16,
      requests: [
        {
          method: 'PUT',
          headers: { ...AUTH, 'Content-Type': 'application/octet-stream' },
          body: BODY,
          setupRequest: (req) => ({ ...req, path: `${prefix}/up-${n++}.bin` }),
        },
      ],
    });
  const rounds = { bare: [] as number[], service: [] as number[] };
  try {
    for (let round = 0; round < 3; round++) {
      rounds.bare.push((await put(barePort, '')).requests.average);
      const r = await put(port, '/storage/files/u');
      if (r.non2xx > 0) console.error(`service answered ${r.non2xx} non-2xx`);
      rounds.service.push(r.requests.average);
    }
  } finally {
    bare.close();
    await stop(child);
  }
  const [b, s] = [median(rounds.bare), median(rounds.service)];
  console.log(
    JSON.stringify({
      scenario: 'uploads',
      db: mysqlUrl ? 'mysql' : 'sqlite',
      bare: b,
      service: s,
      ratio: +(s / b).toFixed(2),
      rounds,
    }),
  );
}

/** `count` live records (with key rows) of STORE named `r/{i}`, in multi-row inserts. */
async function populate(
  db: Db,
  count: number,
  expires: number | null,
  objectKey: (i: number) => string,
): Promise<void> {
  const now = Date.now();
  const step = 500;
  if (!mysqlUrl) await db.exec('BEGIN');
  for (let from = 0; from < count; from += step) {
    const ids = Array.from({ length: Math.min(step, count - from) }, (_, i) => from + i);
    const hashes = ids.map((i) => createHash('md5').update(`${STORE}\u0000r/${i}`).digest('hex'));
    const files: Row[] = ids.map((i, j) => [
      hashes[j],
      objectKey(i),
      createHash('md5')
        .update(`${STORE}\u0000${objectKey(i)}`)
        .digest('hex'),
      'd41d8cd98f00b204e9800998ecf8427e',
      'u',
      `r/${i}`,
      4,
      'text/plain',
      expires,
      `f${i}.txt`,
      'f',
      now,
      STORE,
    ]);
    await db.exec(
      'INSERT INTO storage_files (keyHash, objectKey, objectHash, md5, uid, name, size, type, expires, fileName, fullName, uploadTime, storeFullName) VALUES ' +
        files.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', '),
      files.flat(),
    );
    await db.exec(
      'INSERT INTO storage_objects (keyHash, storeFullName, name, dedup, md5, size, generation, createdAt, updatedAt) VALUES ' +
        ids.map(() => '(?, ?, ?, 0, NULL, NULL, 1, ?, ?)').join(', '),
      ids.flatMap((i, j) => [hashes[j], STORE, `r/${i}`, now, now]),
    );
  }
  if (!mysqlUrl) await db.exec('COMMIT');
}

async function prepared(count: number, expires: number | null, onDisk: boolean) {
  await resetMysql();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'perfdb-bench-'));
  await stop((await startService(dataDir)).child); // migrations
  const db = await openDb(dataDir);
  const started = Date.now();
  await populate(db, count, expires, (i) => `r/${i}`);
  await db.close();
  if (onDisk) {
    fs.mkdirSync(path.join(dataDir, 'files', 'r'), { recursive: true });
    for (let i = 0; i < count; i++) fs.writeFileSync(path.join(dataDir, 'files', 'r', String(i)), 'data');
  }
  console.error(`populated ${count} records in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { dataDir, ...(await startService(dataDir)) };
}

async function list(): Promise<void> {
  const count = Number(process.env.RECORDS ?? 1000);
  const { port, child } = await prepared(count, null, false);
  try {
    const url = `http://127.0.0.1:${port}`;
    const last = await new Promise<number>((resolve) =>
      http.get(
        { port, host: '127.0.0.1', path: `/storage/files?limit=1000&cursor=${count - 150}`, headers: AUTH },
        (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve(JSON.parse(text).items.length));
        },
      ),
    );
    const out: Record<string, number> = { records: count, lastPageItems: last };
    for (const [name, p] of [
      ['firstPage', '/storage/files?limit=100'],
      ['lastPage', `/storage/files?limit=100&cursor=${count - 50}`],
      ['meta', `/storage/meta/r/${Math.floor(count / 2)}`],
    ]) {
      const r = await cannon({ url: `${url}${p}`, connections: 8, headers: AUTH });
      out[`${name}P99`] = r.latency.p99;
      out[`${name}Rps`] = Math.round(r.requests.average);
      if (r.non2xx > 0) console.error(`${name}: ${r.non2xx} non-2xx`);
    }
    console.log(JSON.stringify({ scenario: 'list', db: mysqlUrl ? 'mysql' : 'sqlite', ...out }));
  } finally {
    await stop(child);
  }
}

async function sweep(): Promise<void> {
  const count = Number(process.env.SWEEP_FILES ?? 100000);
  const { port, child } = await prepared(count, Date.now() - 60_000, true);
  try {
    const started = Date.now();
    const report = await new Promise<{ recordsRemoved: number; objectsRemoved: number; failed: number }>(
      (resolve, reject) => {
        const req = http.request(
          { port, host: '127.0.0.1', method: 'POST', path: '/storage/admin/sweep', headers: AUTH },
          (res) => {
            let text = '';
            res.on('data', (c) => (text += c));
            res.on('end', () =>
              res.statusCode === 201 || res.statusCode === 200
                ? resolve(JSON.parse(text))
                : reject(new Error(`${res.statusCode} ${text.slice(0, 300)}`)),
            );
          },
        );
        req.setTimeout(0);
        req.end();
      },
    );
    const seconds = (Date.now() - started) / 1000;
    console.log(
      JSON.stringify({
        scenario: 'sweep',
        db: mysqlUrl ? 'mysql' : 'sqlite',
        files: count,
        seconds,
        filesPerSecond: Math.round(report.recordsRemoved / seconds),
        recordsRemoved: report.recordsRemoved,
        objectsRemoved: report.objectsRemoved,
        failed: report.failed,
      }),
    );
  } finally {
    await stop(child);
  }
}

async function soak(): Promise<void> {
  const seconds = Number(process.env.SOAK_SECONDS ?? 300);
  const { port, child, dataDir } = await prepared(1000, null, true);
  let n = 0;
  const perSecond: number[] = [];
  try {
    const instance = autocannon({
      url: `http://127.0.0.1:${port}`,
      connections: 32,
      duration: seconds,
      requests: [
        { method: 'GET', headers: AUTH, setupRequest: (req) => ({ ...req, path: `/storage/files/r/${n++ % 1000}` }) },
        {
          method: 'PUT',
          headers: { ...AUTH, 'Content-Type': 'application/octet-stream' },
          body: BODY,
          setupRequest: (req) => ({ ...req, path: `/storage/files/s/${n++ % 20000}.bin` }),
        },
        { method: 'GET', headers: AUTH, setupRequest: (req) => ({ ...req, path: `/storage/meta/r/${n++ % 1000}` }) },
        { method: 'GET', headers: AUTH, path: '/storage/files?limit=100' },
      ],
    });
    (instance as unknown as NodeJS.EventEmitter).on('tick', (t: { counter: number }) => perSecond.push(t.counter));
    const result = await instance;
    const minutes = [];
    for (let i = 0; i < perSecond.length; i += 60) minutes.push(Math.round(median(perSecond.slice(i, i + 60))));
    const wal = path.join(dataDir, 'storage.sqlite-wal');
    const walBytes = fs.existsSync(wal) ? fs.statSync(wal).size : null;
    console.log(
      JSON.stringify({
        scenario: 'soak',
        db: mysqlUrl ? 'mysql' : 'sqlite',
        seconds,
        medianPerMinute: minutes,
        walBytes,
        non2xx: result.non2xx,
        errors: result.errors,
      }),
    );
  } finally {
    await stop(child);
  }
}

const scenarios: Record<string, () => Promise<void>> = { uploads, list, sweep, soak };
const chosen = scenarios[process.argv[2]];
if (!chosen) {
  console.error(`usage: db.bench.ts ${Object.keys(scenarios).join('|')} [--db mysql]`);
  process.exit(2);
}
chosen().catch((err) => {
  console.error(err);
  process.exit(1);
});
