import { transformFile } from '@swc/core';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from './peers/ports';
import { rawRequest } from './raw-http';

const REPO = path.resolve(__dirname, '../..');

/**
 * Loaded before `main.js`: binds the server to 127.0.0.1 only (main listens on every interface,
 * and it takes no host setting), and exits it when the test process that started it is gone
 * (jest killed or crashed), so no server outlives its test.
 */
const PRELOAD = `
const net = require('node:net');
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (port, ...rest) {
  if (typeof port !== 'number') return listen.call(this, port, ...rest);
  if (typeof rest[0] === 'string') rest.shift();
  return listen.call(this, port, '127.0.0.1', ...rest);
};
const parent = Number(process.env.CHILD_SERVER_PARENT_PID);
if (parent) setInterval(() => { if (process.ppid !== parent) process.exit(1); }, 500).unref();
`;

export interface CompiledService {
  dir: string;
  /** `main.js`, what `npm run start:prod` runs. */
  main: string;
  remove(): void;
}

/**
 * Compiles `src` (specs left out) to CommonJS in a temp folder with swc, with the decorator
 * metadata Nest needs, and links the project's `node_modules` beside it. Entities and migrations
 * are imported by module, so they come along. Takes well under a second (`tsc` some 3.5 s on 2 cores).
 */
export async function compileService(): Promise<CompiledService> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'storage-build-'));
  const remove = () => fs.rmSync(dir, { recursive: true, force: true });
  try {
    await compileInto(dir);
  } catch (err) {
    remove();
    throw err;
  }
  return { dir, main: path.join(dir, 'main.js'), remove };
}

async function compileInto(dir: string): Promise<void> {
  const src = path.join(REPO, 'src');
  const files = fs
    .readdirSync(src, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && !/\.(e2e-)?spec\.ts$/.test(e.name))
    .map((e) => path.relative(src, path.join(e.parentPath, e.name)));
  await Promise.all(
    files.map(async (rel) => {
      const from = path.join(src, rel);
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      if (!rel.endsWith('.ts')) {
        fs.copyFileSync(from, path.join(dir, rel));
        return;
      }
      const { code } = await transformFile(from, {
        swcrc: false,
        configFile: false,
        jsc: {
          parser: { syntax: 'typescript', decorators: true, dynamicImport: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
          target: 'es2022',
          keepClassNames: true,
        },
        module: { type: 'commonjs' },
      });
      fs.writeFileSync(path.join(dir, rel.replace(/\.ts$/, '.js')), code);
    }),
  );
  fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  fs.writeFileSync(path.join(dir, 'preload.js'), PRELOAD);
}

const running = new Set<ChildServer>();

/** The service running as a process of its own, on a loopback port. */
export class ChildServer {
  constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    private readonly logFile: string,
  ) {
    running.add(this);
    child.once('exit', () => running.delete(this));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** `kill -9`, and waits until the process is gone. */
  async kill(): Promise<void> {
    if (this.exited) return;
    const gone = once(this.child, 'exit');
    this.child.kill('SIGKILL');
    await gone;
  }

  /**
   * SIGTERM; resolves once the process is gone with how it ended. After a clean shutdown Nest
   * raises the signal again on itself, so a clean exit reads `{ code: null, signal: 'SIGTERM' }`.
   */
  async terminate(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.exited) {
      const gone = once(this.child, 'exit');
      this.child.kill('SIGTERM');
      await gone;
    }
    return { code: this.child.exitCode, signal: this.child.signalCode };
  }

  /** The end of the server's log (all its starts share one file), for failure messages. */
  logTail(lines = 30): string {
    return logTail(this.logFile, lines);
  }
}

/**
 * Starts `node main.js` from the project folder (so `config/` is read as in production) with
 * `env` over this process's environment, `PORT` a free loopback port, output appended to
 * `logFile`. Resolves once the server answers HTTP (it listens only after migrations and
 * start-up); a port taken meanwhile is retried on another.
 */
export async function startChildServer(
  service: CompiledService,
  options: {
    env: Record<string, string>;
    logFile: string;
    timeoutMs?: number;
    /** Run as this user (the parent must be root): for permissions root would not feel. */
    user?: { uid: number; gid: number };
  },
): Promise<ChildServer> {
  const { env, logFile, timeoutMs = 30_000, user } = options;
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    fs.appendFileSync(logFile, `--- start on port ${port} ---\n`);
    const log = fs.openSync(logFile, 'a');
    const child = spawn(process.execPath, ['--require', path.join(service.dir, 'preload.js'), service.main], {
      cwd: REPO,
      env: { ...process.env, ...env, PORT: String(port), CHILD_SERVER_PARENT_PID: String(process.pid) },
      stdio: ['ignore', log, log],
      ...user,
    });
    fs.closeSync(log);
    const server = new ChildServer(child, port, logFile);
    if (await answers(server, timeoutMs)) return server;
    await server.kill();
    const tail = server.logTail();
    if (attempt < 3 && tail.slice(tail.lastIndexOf('--- start')).includes('EADDRINUSE')) continue;
    throw new Error(`the service did not start on port ${port} within ${timeoutMs} ms; its log ends:\n${tail}`);
  }
}

async function answers(server: ChildServer, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !server.exited) {
    const ok = await rawRequest(`${server.url}/`, { timeoutMs: 2_000 }).then(
      () => true,
      () => false,
    );
    if (ok) return true;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return false;
}

/** Kills every child server still running: for `afterAll`, whatever happened. */
export async function killChildServers(): Promise<void> {
  await Promise.all([...running].map((s) => s.kill()));
}

function logTail(file: string, lines: number): string {
  if (!fs.existsSync(file)) return '(no log)';
  return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
}

/**
 * A temp DATA_DIR with `storageConfig` written as its STORAGE_CONFIG file, and the environment a
 * child server needs on it (token `alice` = `token`, the sweeper off), `extra` over it.
 */
export function childServerEnv(
  prefix: string,
  storageConfig: Record<string, unknown>,
  token: string,
  extra: Record<string, string> = {},
): { dataDir: string; env: Record<string, string> } {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const config = path.join(dataDir, 'storage-config.json');
  fs.writeFileSync(config, JSON.stringify(storageConfig));
  const env = {
    DATA_DIR: dataDir,
    API_TOKENS: `alice:${token}`,
    STORAGE_CONFIG: config,
    PUBLIC_URL: 'http://storage.test',
    NODE_ENV: 'test',
    SWEEP_ENABLED: 'false',
    ...extra,
  };
  return { dataDir, env };
}
