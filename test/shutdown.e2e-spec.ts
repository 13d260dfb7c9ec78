import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { connect } from 'node:net';
import * as path from 'node:path';
import {
  childServerEnv,
  compileService,
  killChildServers,
  startChildServer,
  type ChildServer,
  type CompiledService,
} from './harness/child-server';
import { isolatedStorage } from './harness/lifecycle';
import { listFiles, TOKEN } from './harness/test-app';

/**
 * SIGTERM to the real service (a child process): it stops accepting, lets transfers finish up to
 * SHUTDOWN_TIMEOUT_SECONDS, then ends them (a stalled upload leaves neither record nor object),
 * and exits; a download in flight when SIGTERM arrives completes whole.
 */
describe('SIGTERM: bounded shutdown', () => {
  const DEADLINE_S = 2;
  const storage = isolatedStorage();
  const prefix = `term${randomBytes(4).toString('hex')}`;
  let service: CompiledService | undefined;
  let dataDir: string;
  let env: Record<string, string>;
  let logFile: string;

  beforeAll(async () => {
    service = await compileService();
    ({ dataDir, env } = childServerEnv('storage-term-', storage.config, TOKEN, {
      SHUTDOWN_TIMEOUT_SECONDS: String(DEADLINE_S),
    }));
    logFile = path.join(dataDir, 'server.log');
  });
  afterAll(async () => {
    await killChildServers();
    service?.remove();
    storage.remove();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const start = () => startChildServer(service!, { env, logFile });

  /** Sends the headers and part of a 1 MiB body, then nothing: an upload that stalls. */
  function stalledUpload(server: ChildServer, key: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = connect(server.port, '127.0.0.1', () => {
        socket.write(
          `PUT /storage/files/${key} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n` +
            `Content-Type: application/octet-stream\r\nContent-Length: ${1024 * 1024}\r\n\r\n`,
        );
        socket.write(randomBytes(64 * 1024), () => resolve());
      });
      socket.on('error', () => undefined);
      socket.once('error', reject);
    });
  }

  async function meta(server: ChildServer, key: string): Promise<number> {
    const res = await fetch(`${server.url}/storage/meta/${key}`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    return res.status;
  }

  it('ends a stalled upload at the deadline, leaving nothing, and exits', async () => {
    const server = await start();
    const key = `${prefix}/stalled.bin`;
    await stalledUpload(server, key);
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    const exit = await server.terminate();
    const ms = Date.now() - started;
    // It waited for the transfer (the deadline), then ended it, well within the deadline + margin.
    expect(ms).toBeGreaterThanOrEqual(DEADLINE_S * 1000 - 200);
    expect(ms).toBeLessThan(DEADLINE_S * 1000 + 6000);
    expect(exit).toEqual({ code: null, signal: 'SIGTERM' });
    expect(server.logTail(200)).toContain('transfers still in flight after 2 s: ending them');
    const again = await start();
    expect(await meta(again, key)).toBe(404);
    // The instance's folder was empty before: no object, no temp file (`.~tmp.*`) is left.
    expect(listFiles(storage.root)).toEqual([]);
    await again.kill();
  });

  it('lets a download in flight when SIGTERM arrives complete, then exits', async () => {
    const server = await start();
    const key = `${prefix}/big.bin`;
    const body = randomBytes(8 * 1024 * 1024);
    const put = await fetch(`${server.url}/storage/files/${key}`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/octet-stream' },
      body,
    });
    expect(put.status).toBe(201);
    let exited: ReturnType<ChildServer['terminate']> | undefined;
    const received = await new Promise<Buffer>((resolve, reject) => {
      http
        .get(`${server.url}/storage/files/${key}`, { headers: { Authorization: `Bearer ${TOKEN}` } }, (res) => {
          expect(res.statusCode).toBe(200);
          exited = server.terminate();
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve(Buffer.concat(chunks)));
          res.on('error', reject);
        })
        .on('error', reject);
    });
    expect(received.length).toBe(body.length);
    expect(createHash('md5').update(received).digest('hex')).toBe(createHash('md5').update(body).digest('hex'));
    expect(await exited).toEqual({ code: null, signal: 'SIGTERM' });
  });
});
