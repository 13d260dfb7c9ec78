import type { INestApplication } from '@nestjs/common';
import * as fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { createApp } from '../src/app';
import type { HostConfig } from '../src/config';

export const API_TOKEN = 'host-app-test-token';
export const PUBLIC_BASE_URL = 'https://docs.host.test';

/** The application on a real HTTP server (a free port on 127.0.0.1), its files in a new temporary folder. */
export interface RunningApp {
  app: INestApplication;
  /** `http://127.0.0.1:{port}` */
  url: string;
  config: HostConfig;
  close(): Promise<void>;
}

export function testConfig(more: Partial<HostConfig> = {}): HostConfig & { dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'host-app-test-'));
  return {
    dir,
    host: '127.0.0.1',
    port: 0,
    publicBaseUrl: PUBLIC_BASE_URL,
    dataDir: path.join(dir, 'data'),
    uploadTmpDir: path.join(dir, 'multer-tmp'),
    apiTokens: { admin: API_TOKEN },
    signingSecret: 'host-app-test-signing-secret',
    ...more,
  };
}

export async function startApp(more: Partial<HostConfig> = {}): Promise<RunningApp> {
  const config = testConfig(more);
  const app = await createApp(config, ['error', 'warn']);
  await app.listen(config.port, config.host);
  const { port } = app.getHttpServer().address() as AddressInfo;
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    config,
    async close() {
      await app.close();
      fs.rmSync(config.dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
    },
  };
}

/** A 1x1 PNG: a real image for the thumbnail route. */
export const PNG_1X1 = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

/**
 * The packages these tests expect absent (optional peers of storage-svc this app does not use)
 * must not be found from the installed library. Inside the repository they are (its own
 * node_modules is an ancestor folder): there the tests that need them absent are skipped,
 * except under CI (HOST_APP_CI=1, set by .ci/host-app), where the app is a copy outside the repository.
 */
export function resolvableFrom(dir: string, request: string): string | null {
  try {
    return require.resolve(request, { paths: [dir] });
  } catch {
    return null;
  }
}
