import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * The built application under Node's own module loader (Jest compiles every package to
 * CommonJS; Node loads Nest 12's ES modules from CommonJS through require(esm)): `npm run build`,
 * then `node dist/main.js` as a deployment would start it.
 */
const appDir = path.resolve(__dirname, '..');

describe('node dist/main.js', () => {
  let dir: string;
  let child: ChildProcess | undefined;
  let output = '';

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'host-app-main-'));
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: appDir, stdio: 'pipe' });
  }, 120_000);

  afterAll(() => {
    child?.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('starts, stores an upload, serves it back and stops on SIGTERM', async () => {
    child = spawn(process.execPath, ['dist/main.js'], {
      cwd: appDir,
      env: {
        ...process.env,
        NO_COLOR: '1',
        HOST: '127.0.0.1',
        PORT: '0',
        DATA_DIR: path.join(dir, 'data'),
        UPLOAD_TMP_DIR: path.join(dir, 'tmp'),
        STORAGE_API_TOKEN: 'main-token',
        SIGNING_SECRET: 'main-signing-secret',
        PUBLIC_URL: 'https://docs.example.test',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child!.once('exit', (code, signal) => resolve({ code, signal })),
    );
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no 'listening on' within 30 s:\n${output}`)), 30_000);
      const look = () => {
        const match = /listening on (http:\/\/\S+)/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(match[1].replace('[::1]', '127.0.0.1'));
        }
      };
      child!.stdout!.on('data', look);
      void exited.then(() => reject(new Error(`exited before listening:\n${output}`)));
    });

    const form = new FormData();
    form.append('title', 'From main.js');
    form.append('file', new Blob(['bytes from a real start']), 'main.txt');
    const created = await fetch(`${url}/documents`, { method: 'POST', body: form, headers: { 'X-User': 'ops' } });
    expect(created.status).toBe(201);
    const doc = (await created.json()) as { id: number; attachment: { name: string; url: string } };
    expect(doc.attachment.url.startsWith('https://docs.example.test/files-api/')).toBe(true);

    const file = await fetch(`${url}/documents/${doc.id}/file`);
    expect(file.status).toBe(200);
    expect(await file.text()).toBe('bytes from a real start');
    const viaModule = await fetch(`${url}/files-api/files/${doc.attachment.name}`, {
      headers: { Authorization: 'Bearer main-token' },
    });
    expect(await viaModule.text()).toBe('bytes from a real start');

    child.kill('SIGTERM');
    const { code, signal } = await exited;
    expect(code === 0 || signal === 'SIGTERM').toBe(true);
    expect(output).not.toMatch(/ERROR/);
  });
});
