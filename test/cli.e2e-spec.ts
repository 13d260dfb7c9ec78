import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compileService, type CompiledService } from './harness/child-server';
import { s3Instance } from './harness/peers/instances';
import { startS3rver, type S3Peer } from './harness/peers/s3rver';

const REPO = path.resolve(__dirname, '..');

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * The CLI as an operator runs it: the compiled `cli/main.js` in a child process, from the
 * project folder (so `config/` is read as in production), on its own DATA_DIR, and on the MySQL
 * suite's database when DB_URL is set (a table prefix is not available, so each run uses keys
 * under its own random prefix and instance names of its own).
 */
describe('storage-svc CLI', () => {
  let build: CompiledService;
  let s3: S3Peer;
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  const tag = `c${Math.random().toString(36).slice(2, 8)}`;
  const LOCAL = `storages.Cli${tag}Local`;
  const S3 = `storages.Cli${tag}S3`;
  /** The killed migration's source: an instance of its own, so that only its files are counted. */
  const LOCAL2 = `storages.Cli${tag}Local2`;

  function cli(args: string[], options: { killAfterLines?: RegExp; killCount?: number } = {}): Promise<Run> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [path.join(build.dir, 'cli', 'main.js'), ...args], {
        cwd: REPO,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      let seen = 0;
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (options.killAfterLines) {
          seen = stderr.split('\n').filter((l) => options.killAfterLines!.test(l)).length;
          if (seen >= (options.killCount ?? 1)) child.kill('SIGKILL');
        }
      });
      child.on('error', reject);
      child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    });
  }

  const md5 = (file: string) => createHash('md5').update(fs.readFileSync(file)).digest('hex');

  beforeAll(async () => {
    [build, s3] = await Promise.all([compileService(), startS3rver(['cli-bucket'])]);
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'storage-cli-'));
    const config = path.join(dataDir, 'storage-config.json');
    fs.writeFileSync(
      config,
      JSON.stringify({
        storages: {
          [LOCAL]: { type: 'storages.LocalType', root: path.join(dataDir, 'local') },
          [LOCAL2]: { type: 'storages.LocalType', root: path.join(dataDir, 'local2') },
          [S3]: s3Instance(s3, 'cli-bucket'),
        },
      }),
    );
    env = {
      ...process.env,
      DATA_DIR: dataDir,
      STORAGE_CONFIG: config,
      NODE_ENV: 'test',
      SWEEP_ENABLED: 'false',
      PURGE_INTERVAL_SECONDS: '0',
    };
  }, 120_000);

  afterAll(async () => {
    await s3?.close();
    build?.remove();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  /** A folder of `n` files with nested folders, sizes from 0 bytes to some 200 KiB. */
  function makeFolder(n: number): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'storage-cli-src-'));
    for (let i = 0; i < n; i++) {
      const file = path.join(dir, i % 3 === 0 ? `sub/deeper/f${i}.bin` : `f${i}.bin`);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const size = i === 0 ? 0 : (i * 7919) % 200_000;
      fs.writeFileSync(file, Buffer.from(Array.from({ length: size }, (_, j) => (j * 31 + i) & 0xff)));
    }
    return dir;
  }

  /** `makeFolder(n)` uploaded with the CLI under `${tag}/{name}`: the folder, the prefix and what `ls` must show. */
  async function uploadedFolder(n: number, name: string, storage: string) {
    const src = makeFolder(n);
    const prefix = `${tag}/${name}`;
    expect((await cli(['upload', src, '--to', prefix, '--storage', storage])).code).toBe(0);
    return { src, prefix, want: expected(src, prefix) };
  }

  function listing(run: Run): Map<string, { size: number; md5: string }> {
    return new Map(
      run.stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const [size, hash, name] = line.split('\t');
          return [name, { size: Number(size), md5: hash }];
        }),
    );
  }

  function expected(dir: string, prefix: string): Map<string, { size: number; md5: string }> {
    const files = fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
    return new Map(
      files.map((e) => {
        const file = path.join(e.parentPath, e.name);
        const rel = path.relative(dir, file).split(path.sep).join('/');
        return [`${prefix}/${rel}`, { size: fs.statSync(file).size, md5: md5(file) }];
      }),
    );
  }

  it('answers --help with the commands and exit 0, and a bad command line with exit 2', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    for (const command of ['upload', 'download', 'ls', 'rm', 'sweep', 'reconcile', 'migrate', 'verify']) {
      expect(help.stdout).toContain(command);
    }
    expect((await cli(['frobnicate'])).code).toBe(2);
    expect((await cli(['migrate', '--from', LOCAL])).code).toBe(2);
    expect((await cli(['ls', '--storage', 'storages.Nope'])).code).toBe(2);
  }, 120_000);

  it('uploads a folder, lists it, migrates it to S3 and back byte-identical', async () => {
    const src = makeFolder(8);
    const prefix = `${tag}/round`;
    const up = await cli(['upload', src, '--to', prefix, '--storage', LOCAL]);
    expect(up).toMatchObject({ code: 0 });
    // Not a terminal: plain lines, one per file.
    expect(up.stderr.split('\n').filter((l) => l.startsWith('upload: ')).length).toBeGreaterThanOrEqual(8);
    const want = expected(src, prefix);
    expect(listing(await cli(['ls', prefix, '--storage', LOCAL]))).toEqual(want);

    const there = await cli(['migrate', '--from', LOCAL, '--to', S3]);
    expect(there.code).toBe(0);
    expect(listing(await cli(['ls', prefix, '--storage', LOCAL])).size).toBe(0);
    expect(listing(await cli(['ls', prefix, '--storage', S3]))).toEqual(want);
    // The local objects went with their records.
    expect(
      fs.readdirSync(path.join(dataDir, 'local'), { recursive: true }).filter((f) => String(f).endsWith('.bin')),
    ).toEqual([]);

    const back = await cli(['migrate', '--from', S3, '--to', LOCAL]);
    expect(back.code).toBe(0);
    expect(listing(await cli(['ls', prefix, '--storage', S3])).size).toBe(0);
    expect(listing(await cli(['ls', prefix, '--storage', LOCAL]))).toEqual(want);

    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'storage-cli-out-'));
    // Every object is re-hashed by verify below; a few go through download too.
    for (const [key, { md5: hash }] of [...want].slice(0, 3)) {
      const dest = path.join(out, key.replace(/\//g, '_'));
      expect((await cli(['download', key, dest, '--storage', LOCAL])).code).toBe(0);
      expect(md5(dest)).toBe(hash);
    }
    expect((await cli(['verify', '--storage', LOCAL])).code).toBe(0);
    fs.rmSync(out, { recursive: true, force: true });
    fs.rmSync(src, { recursive: true, force: true });
  }, 240_000);

  it('resumes a migration killed half-way: nothing lost, nothing duplicated', async () => {
    const { src, prefix, want } = await uploadedFolder(12, 'killed', LOCAL2);

    const killed = await cli(['migrate', '--from', LOCAL2, '--to', S3], { killAfterLines: /^migrate: /, killCount: 5 });
    expect(killed.signal).toBe('SIGKILL');
    const onS3 = listing(await cli(['ls', prefix, '--storage', S3]));
    const onLocal = listing(await cli(['ls', prefix, '--storage', LOCAL2]));
    expect(onS3.size).toBeGreaterThanOrEqual(5);
    expect(onS3.size).toBeLessThan(12);
    // Every file is somewhere, and still served from where it is.
    expect(new Set([...onS3.keys(), ...onLocal.keys()])).toEqual(new Set(want.keys()));

    const resumed = await cli(['migrate', '--from', LOCAL2, '--to', S3]);
    expect(resumed.code).toBe(0);
    expect(listing(await cli(['ls', prefix, '--storage', LOCAL2])).size).toBe(0);
    const lines = (await cli(['ls', prefix, '--storage', S3])).stdout.trim().split('\n');
    expect(lines).toHaveLength(12); // one record per file: no duplicate
    expect(listing(await cli(['ls', prefix, '--storage', S3]))).toEqual(want);
    expect((await cli(['verify', '--storage', S3])).code).toBe(0);
    fs.rmSync(src, { recursive: true, force: true });
  }, 240_000);

  it('switches without copying a record an interrupted run already copied', async () => {
    // The state a migration killed between its copy and its switch leaves: the same upload on both.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'storage-cli-src-'));
    const file = path.join(dir, 'both.txt');
    fs.writeFileSync(file, 'copied, not yet switched');
    const key = `${tag}/both`;
    for (const storage of [LOCAL2, S3]) {
      expect((await cli(['upload', file, '--to', key, '--storage', storage])).code).toBe(0);
    }
    const run = await cli(['migrate', '--from', LOCAL2, '--to', S3]);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('0 files copied, 1 already on');
    expect(listing(await cli(['ls', key, '--storage', S3])).size).toBe(1);
    expect(listing(await cli(['ls', key, '--storage', LOCAL2])).size).toBe(0);
    fs.rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('leaves a file on the source when the target holds a newer one under its key', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'storage-cli-src-'));
    const file = path.join(dir, 'same.txt');
    const key = `${tag}/conflict`;
    fs.writeFileSync(file, 'older, on the source');
    expect((await cli(['upload', file, '--to', key, '--storage', LOCAL2])).code).toBe(0);
    fs.writeFileSync(file, 'newer, on the target');
    expect((await cli(['upload', file, '--to', key, '--storage', S3])).code).toBe(0);
    const before = listing(await cli(['ls', key, '--storage', S3]));
    const run = await cli(['migrate', '--from', LOCAL2, '--to', S3]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`CONFLICT\t${key}/same.txt`);
    expect(listing(await cli(['ls', key, '--storage', S3]))).toEqual(before);
    expect(listing(await cli(['ls', key, '--storage', LOCAL2])).size).toBe(1);
    fs.rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('verify reports a corrupted object and a missing one, exit 1', async () => {
    const { src, prefix } = await uploadedFolder(3, 'verify', LOCAL);
    const root = path.join(dataDir, 'local');
    const objects = fs
      .readdirSync(root, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && path.join(e.parentPath, e.name).includes(path.join(prefix)))
      .map((e) => path.join(e.parentPath, e.name));
    expect(objects.length).toBe(3);
    const [corrupt, gone] = objects.filter((f) => fs.statSync(f).size > 0);
    const bytes = fs.readFileSync(corrupt);
    bytes[0] ^= 0xff;
    fs.writeFileSync(corrupt, bytes);
    fs.rmSync(gone);
    const run = await cli(['verify', '--storage', LOCAL]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^MISMATCH\t/m);
    expect(run.stdout).toMatch(/^MISSING\t/m);
    fs.rmSync(src, { recursive: true, force: true });
  }, 120_000);
});
