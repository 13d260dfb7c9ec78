import 'reflect-metadata';
import { Test } from '@nestjs/testing';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import request from 'supertest';
import { AppModule } from '../../src/app/app.module';
import { setupStorageApp } from '../../src/app/setup-app';
import { StorageService } from '../../src/storage/storage.service';

export const TOKEN = 'test-token-alice';
export const OTHER_TOKEN = 'test-token-bob';

export interface TestApp {
  app: NestExpressApplication;
  http: ReturnType<typeof request>;
  service: StorageService;
  dataDir: string;
  /** A random key prefix for this app: keeps test files apart on a shared MySQL database. */
  prefix: string;
  /** `Authorization` header value for user `alice`. */
  auth: string;
  close(): Promise<void>;
}

/**
 * The real application, as `npm start` builds it, on a temp DATA_DIR and a random port; on the
 * MySQL suite (DB_URL set) it shares that database. `env` adds or overrides variables, and
 * `config` is written as a STORAGE_CONFIG file.
 */
export async function createTestApp(
  options: { env?: Record<string, string>; config?: Record<string, unknown> } = {},
): Promise<TestApp> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'storage-e2e-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATA_DIR: dataDir,
    API_TOKENS: `alice:${TOKEN},bob:${OTHER_TOKEN}`,
    PUBLIC_URL: 'http://storage.test',
    STORAGE_CONFIG: '',
    NODE_ENV: 'test',
    ...options.env,
  };
  if (options.config) {
    const file = path.join(dataDir, 'storage-config.json');
    fs.writeFileSync(file, JSON.stringify(options.config));
    env.STORAGE_CONFIG = file;
  }
  const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(env)] }).compile();
  const app = moduleRef.createNestApplication<NestExpressApplication>({ bodyParser: false, logger: ['error'] });
  setupStorageApp(app, env.ROUTE_PREFIX || 'storage');
  await app.listen(0, '127.0.0.1');
  const http = request(app.getHttpServer());
  return {
    app,
    http,
    service: app.get(StorageService),
    dataDir,
    prefix: `t${randomBytes(4).toString('hex')}`,
    auth: `Bearer ${TOKEN}`,
    async close() {
      await app.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Every file under `dir`, relative, for "nothing was left behind" checks. */
export function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}
