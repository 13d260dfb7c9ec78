import { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadConfigFiles } from '../storage/config/load-config';
import type { StorageModuleOptions } from '../storage/options/storage.options';
import { lifecycleFromEnv, signingFromEnv } from './lifecycle.config';

export interface AppConfig {
  port: number;
  dataDir: string;
  routePrefix: string;
  storage: StorageModuleOptions;
}

const TOKEN_FILE = 'api-token';

/**
 * The whole application configuration, read once at start-up from the environment and the
 * files in `config/` (see README's configuration reference). Throws with the variable's name
 * when a value is malformed.
 */
export function buildAppConfig(env: NodeJS.ProcessEnv): AppConfig {
  const port = intVar(env, 'PORT', 3000);
  const dataDir = path.resolve(env.DATA_DIR || './data');
  const files = loadConfigFiles({ DATA_DIR: dataDir, ...env });
  const maxUploadSize = env.MAX_UPLOAD_SIZE ? parseSize(env.MAX_UPLOAD_SIZE, 'MAX_UPLOAD_SIZE') : undefined;
  const storage: StorageModuleOptions = {
    ...(files as Partial<StorageModuleOptions>),
    storages: (files.storages ?? {}) as StorageModuleOptions['storages'],
    publicBaseUrl: env.PUBLIC_URL || `http://localhost:${port}`,
    apiTokens: resolveApiTokens(env, dataDir),
    baseDir: process.cwd(),
    ...(maxUploadSize !== undefined ? { maxUploadSize } : {}),
    lifecycle: lifecycleFromEnv(env, (files as Partial<StorageModuleOptions>).lifecycle),
    signing: signingFromEnv(env, dataDir, (files as Partial<StorageModuleOptions>).signing),
  };
  return { port, dataDir, routePrefix: env.ROUTE_PREFIX || 'storage', storage };
}

/** `API_TOKENS=name:token,...`; with none set, one token for `admin` is made and kept in DATA_DIR. */
export function resolveApiTokens(env: NodeJS.ProcessEnv, dataDir: string): Record<string, string> {
  if (env.API_TOKENS) {
    const tokens: Record<string, string> = {};
    for (const pair of env.API_TOKENS.split(',')
      .map((p) => p.trim())
      .filter(Boolean)) {
      const colon = pair.indexOf(':');
      if (colon <= 0 || colon === pair.length - 1) {
        throw new Error("API_TOKENS must be 'name:token' pairs separated by commas");
      }
      tokens[pair.slice(0, colon)] = pair.slice(colon + 1);
    }
    return tokens;
  }
  const file = path.join(dataDir, TOKEN_FILE);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(file, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
    new Logger('Config').log(`API_TOKENS is not set: made a token for user 'admin' in ${file}`);
  } else {
    new Logger('Config').log(`API_TOKENS is not set: using the token for user 'admin' in ${file}`);
  }
  return { admin: fs.readFileSync(file, 'utf8').trim() };
}

function intVar(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a whole number (got '${raw}')`);
  return value;
}

/** `1048576`, `512KB`, `100MB`, `5GB` (powers of 1024). */
export function parseSize(raw: string, name: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$/i.exec(raw);
  if (!match) throw new Error(`${name} must be a size like 100MB (got '${raw}')`);
  const unit = (match[2] ?? '').toLowerCase().replace(/i?b$/, '');
  const power = { '': 0, k: 1, m: 2, g: 3, t: 4 }[unit] ?? 0;
  return Math.floor(Number(match[1]) * 1024 ** power);
}
