import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import { connect } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from './ports';

/**
 * A MariaDB server of the test's own: its own data folder, socket and loopback port, no grant
 * tables (root without a password), `--no-defaults` so the system my.cnf (which forces a user)
 * is not read. The test can pause it (SIGSTOP: a hung database whose port still accepts
 * connections), resume it, kill it (a database that is down: connections refused) and start it
 * again on the same port and data.
 */
export class OwnMariaDb {
  private process?: ChildProcess;

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  /** Initialises a data folder (some 2 s) and starts the server on a free port. */
  static async start(): Promise<OwnMariaDb> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mariadb-'));
    const init = spawnSync(
      'mariadb-install-db',
      [
        '--no-defaults',
        `--datadir=${path.join(dir, 'data')}`,
        '--auth-root-authentication-method=normal',
        '--user=root',
      ],
      { encoding: 'utf8' },
    );
    if (init.status !== 0) throw new Error(`mariadb-install-db failed: ${init.stderr || init.stdout}`);
    const db = new OwnMariaDb(dir, await freePort());
    await db.restart();
    return db;
  }

  get url(): string {
    return `mysql://root@127.0.0.1:${this.port}/storage`;
  }

  /** Starts the server (again) on the same port and data; resolves once it answers. */
  async restart(): Promise<void> {
    const log = fs.openSync(path.join(this.dir, 'server.log'), 'a');
    this.process = spawn(
      'mariadbd',
      [
        '--no-defaults',
        `--datadir=${path.join(this.dir, 'data')}`,
        `--socket=${path.join(this.dir, 'mysqld.sock')}`,
        `--pid-file=${path.join(this.dir, 'mysqld.pid')}`,
        `--port=${this.port}`,
        '--bind-address=127.0.0.1',
        '--skip-grant-tables',
        '--user=root',
        '--innodb-buffer-pool-size=16M',
        '--skip-log-bin',
      ],
      { stdio: ['ignore', log, log] },
    );
    fs.closeSync(log);
    const deadline = Date.now() + 30_000;
    while (!(await this.answers())) {
      if (this.process.exitCode !== null || Date.now() > deadline) {
        throw new Error(`mariadbd did not start: ${this.logTail()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const create = spawnSync(
      'mariadb',
      ['--no-defaults', '-h127.0.0.1', `-P${this.port}`, '-uroot', '-e', 'CREATE DATABASE IF NOT EXISTS storage'],
      { encoding: 'utf8' },
    );
    if (create.status !== 0) throw new Error(`CREATE DATABASE failed: ${create.stderr}`);
  }

  /** SIGSTOP: the process stops; the kernel still accepts TCP connections, nothing answers. */
  pause(): void {
    this.process?.kill('SIGSTOP');
  }

  resume(): void {
    this.process?.kill('SIGCONT');
  }

  /** SIGKILL and waits until it is gone: the port refuses connections. */
  async kill(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = once(child, 'exit');
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await gone;
  }

  /** Kills the server and removes its folder. */
  async remove(): Promise<void> {
    await this.kill();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  logTail(): string {
    const file = path.join(this.dir, 'server.log');
    return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').slice(-15).join('\n') : '(no log)';
  }

  /** True once the server sends its handshake on the port. */
  private answers(): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = connect(this.port, '127.0.0.1');
      const done = (ok: boolean) => {
        socket.destroy();
        resolve(ok);
      };
      socket.setTimeout(1000, () => done(false));
      socket.once('data', () => done(true));
      socket.once('error', () => done(false));
    });
  }
}
