import * as path from 'node:path';
import { loadStorageOptions } from '../storage/module/load-storage-options';
import type { StorageModuleOptions } from '../storage/module/storage-module.options';
import { databaseTimeoutMs } from './database';

export interface AppConfig {
  port: number;
  dataDir: string;
  routePrefix: string;
  /** `DB_TIMEOUT_MS`: the bound on every database step, and on each readiness probe. */
  dbTimeoutMs: number;
  /** `SHUTDOWN_TIMEOUT_SECONDS`: how long transfers in flight may finish after SIGTERM. */
  shutdownTimeoutSeconds: number;
  /** `METRICS_PORT`: `GET /metrics` on a server of its own on this port (0: any free one), not on `port`. */
  metricsPort?: number;
  /** `METRICS_TOKEN`: when set, `/metrics` answers only `Authorization: Bearer <token>`. */
  metricsToken?: string;
  storage: StorageModuleOptions;
}

/**
 * The whole application configuration, read once at start-up from the environment and the
 * files in `config/` (see README's configuration reference): the storage module's options
 * exactly as a host loads them (`loadStorageOptions`), plus the port, and `PUBLIC_URL`
 * defaulting to this machine. Throws with the variable's name when a value is malformed.
 */
export function buildAppConfig(env: NodeJS.ProcessEnv): AppConfig {
  const port = intVar(env, 'PORT', 3000);
  const dataDir = path.resolve(env.DATA_DIR || './data');
  const storage = loadStorageOptions({ env, dataDir });
  return {
    port,
    dataDir,
    routePrefix: env.ROUTE_PREFIX || 'storage',
    dbTimeoutMs: databaseTimeoutMs(env),
    shutdownTimeoutSeconds: intVar(env, 'SHUTDOWN_TIMEOUT_SECONDS', 30),
    metricsPort: metricsPort(env),
    metricsToken: env.METRICS_TOKEN || undefined,
    storage: { ...storage, publicBaseUrl: storage.publicBaseUrl || `http://localhost:${port}` },
  };
}

/** `METRICS_PORT`, or undefined when unset (metrics then stay on the main port). */
export function metricsPort(env: NodeJS.ProcessEnv): number | undefined {
  if (env.METRICS_PORT === undefined || env.METRICS_PORT === '') return undefined;
  const port = intVar(env, 'METRICS_PORT', 0);
  if (port > 65535) throw new Error(`METRICS_PORT must be a port number up to 65535 (got '${env.METRICS_PORT}')`);
  return port;
}

function intVar(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a whole number (got '${raw}')`);
  return value;
}
