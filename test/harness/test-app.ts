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
import { Clock } from '../../src/storage/ledger/clock';
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
 * `config` is written as a STORAGE_CONFIG file. The scheduled sweeper is off unless `env` turns
 * it on (a test sweeps when it means to), and so is the background purge; `clock` replaces the service's time source.
 */
export async function createTestApp(
  options: {
    env?: Record<string, string>;
    config?: Record<string, unknown>;
    clock?: Clock;
    /**
     * Node's server timeouts as the app starts, before the standalone set-up applies its own
     * (Node's defaults scaled down, to show in a second what takes minutes).
     */
    serverTimeouts?: { requestTimeout: number; headersTimeout: number; connectionsCheckingInterval: number };
  } = {},
): Promise<TestApp> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'storage-e2e-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATA_DIR: dataDir,
    API_TOKENS: `alice:${TOKEN},bob:${OTHER_TOKEN}`,
    PUBLIC_URL: 'http://storage.test',
    STORAGE_CONFIG: '',
    NODE_ENV: 'test',
    SWEEP_ENABLED: 'false',
    // Off by default, like the sweeper: test apps share the MySQL database, and one app's queue
    // runner must not work another app's removals (tests purge through sweeps when they mean to).
    PURGE_INTERVAL_SECONDS: '0',
    // The request log (pino) stays quiet in tests; test/observability.e2e-spec.ts reads it.
    LOG_LEVEL: 'silent',
    ...options.env,
  };
  if (options.config) {
    const file = path.join(dataDir, 'storage-config.json');
    fs.writeFileSync(file, JSON.stringify(options.config));
    env.STORAGE_CONFIG = file;
  }
  const builder = Test.createTestingModule({ imports: [AppModule.forRoot(env)] });
  if (options.clock) builder.overrideProvider(Clock).useValue(options.clock);
  const moduleRef = await builder.compile();
  // As main.ts does: Nest's default body parsers stay on (the module keeps its raw uploads raw).
  const app = moduleRef.createNestApplication<NestExpressApplication>({ logger: ['error'] });
  if (options.serverTimeouts) Object.assign(app.getHttpServer(), options.serverTimeouts);
  setupStorageApp(app);
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
