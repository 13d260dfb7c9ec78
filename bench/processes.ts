/**
 * The servers under test, each a child process of the bench: the built service (`dist/main.js`)
 * and the baselines (`bench/servers/*.ts`). A server prints nothing the bench relies on but the
 * service's event-loop probe lines (stderr) and the baselines' `listening <port>` line (stdout).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { createInterface } from 'node:readline';

export const TOKEN = 'bench-token';
export const AUTH = { Authorization: `Bearer ${TOKEN}` };
export const ROOT = path.resolve(__dirname, '..');
/** As src/app/event-loop-probe.ts: the message asking the service for its event-loop figures. */
const PROBE_MESSAGE = 'bench-event-loop';

export interface Server {
  readonly name: string;
  readonly port: number;
  readonly child: ChildProcess;
  url(pathAndQuery: string): string;
  stop(): Promise<void>;
}

export interface EventLoopReport {
  maxMs: number;
  p99Ms: number;
}

export interface ServiceProcess extends Server {
  readonly dataDir: string;
  readonly db: 'sqlite' | 'mysql';
  readonly dbUrl: string;
  /** Its stdout (the request log, JSON lines), beside its data folder. */
  readonly logFile: string;
  /** The largest event-loop delay since the last call (the service's probe, SIGUSR2). */
  eventLoop(): Promise<EventLoopReport>;
}

/** Every child the bench started and that still runs: stopped on Ctrl-C too. */
const running = new Set<ChildProcess>();

export function track(child: ChildProcess): ChildProcess {
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

/** Stops every child still running (the bench was interrupted or failed). */
export function stopAll(): Promise<void[]> {
  return Promise.all([...running].map((child) => stopChild(child, 3000)));
}

export async function freePort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function serverOf(name: string, port: number, child: ChildProcess): Server {
  return {
    name,
    port,
    child,
    url: (p) => `http://127.0.0.1:${port}${p}`,
    stop: () => stopChild(child),
  };
}

/** SIGTERM, then SIGKILL if the child has not gone after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export interface ServiceOptions {
  dataDir: string;
  db: 'sqlite' | 'mysql';
  /** For mysql: `mysql://root@127.0.0.1:3306/bench`. */
  dbUrl?: string;
  /** A configuration file merged over config/ (STORAGE_CONFIG). */
  configFile: string;
  env?: Record<string, string>;
}

/**
 * The bench's own configuration: no public rate limits (they would turn the preview and thumbnail
 * load into 429s), and, with `storage`, the default instance replaced by that cloud instance.
 */
export function writeServiceConfig(file: string, defaultStorage?: object): void {
  const config: Record<string, unknown> = { rateLimit: false };
  if (defaultStorage) config.storages = { 'storages.Default': defaultStorage };
  writeFileSync(file, JSON.stringify(config, null, 2));
}

/** Starts `dist/main.js` (build it first) on a free port; resolves once it answers. */
export async function startService(options: ServiceOptions): Promise<ServiceProcess> {
  const port = await freePort();
  const dbUrl = options.db === 'mysql' ? (options.dbUrl ?? '') : '';
  const logFile = `${options.dataDir}.log`;
  const log = openSync(logFile, 'a');
  const child = track(
    spawn(process.execPath, [path.join(ROOT, 'dist/main.js')], {
      cwd: ROOT,
      env: {
        ...process.env,
        PORT: String(port),
        DATA_DIR: options.dataDir,
        DB_URL: dbUrl,
        API_TOKENS: `bench:${TOKEN}`,
        STORAGE_CONFIG: options.configFile,
        LOG_FORMAT: 'json',
        SWEEP_ENABLED: 'false',
        RECONCILE_ENABLED: 'false',
        BENCH_EVENT_LOOP: '1',
        NODE_ENV: '',
        ...options.env,
      },
      stdio: ['ignore', log, 'pipe', 'ipc'],
    }),
  );
  closeSync(log);
  const probes = probeReader(child);
  const server = serverOf(`service (${options.db})`, port, child);
  await waitReady(server, '/storage/files?limit=1', AUTH).catch((err: Error) => {
    throw new Error(`${err.message}; its log:\n${tail(logFile)}`);
  });
  return {
    ...server,
    logFile,
    dataDir: options.dataDir,
    db: options.db,
    dbUrl,
    eventLoop: () => {
      const next = probes.next();
      child.send(PROBE_MESSAGE);
      return next;
    },
  };
}

/**
 * The service's event-loop probe answers over the IPC channel (src/app/event-loop-probe.ts);
 * its stderr is passed through to the bench's (start-up errors must be seen).
 */
function probeReader(child: ChildProcess): { next(): Promise<EventLoopReport> } {
  const waiting: ((report: EventLoopReport) => void)[] = [];
  child.on('message', (message: { type?: string } & EventLoopReport) => {
    if (message?.type === PROBE_MESSAGE) waiting.shift()?.({ maxMs: message.maxMs, p99Ms: message.p99Ms });
  });
  createInterface({ input: child.stderr! }).on('line', (line) => process.stderr.write(`[service] ${line}\n`));
  return {
    next: () =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the service did not answer the event-loop probe')), 10_000);
        waiting.push((report) => {
          clearTimeout(timer);
          resolve(report);
        });
      }),
  };
}

/** Starts one of `bench/servers/*.ts` (a baseline) on a free port, serving files from `dir`. */
export async function startBaseline(name: string, script: string, dir: string): Promise<Server> {
  const port = await freePort();
  const child = track(
    spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', path.join(__dirname, 'servers', script)], {
      cwd: ROOT,
      env: { ...process.env, PORT: String(port), DIR: dir, TS_NODE_PROJECT: path.join(ROOT, 'tsconfig.json') },
      stdio: ['ignore', 'ignore', 'inherit'],
    }),
  );
  const server = serverOf(name, port, child);
  await waitReady(server, '/ready', {});
  return server;
}

async function waitReady(server: Server, probe: string, headers: Record<string, string>): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (server.child.exitCode !== null) throw new Error(`${server.name} exited during start-up`);
    const status = await new Promise<number>((resolve) => {
      http
        .get(server.url(probe), { headers }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', () => resolve(0));
    });
    if (status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${server.name} did not start within 60 s`);
}

/** The last lines of a log file, for an error message. */
export function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** A field of /proc/PID/status in KiB (VmRSS, VmHWM). */
export function procStatusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]);
}

/** Resets VmHWM to the current RSS (Linux: "5" to clear_refs), so the next peak is the next step's. */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}
