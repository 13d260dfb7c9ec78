import { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadConfigFiles } from '../config/load-config';
import { withEnvLimits } from './api-tokens.options';
import type { LifecycleOptions } from './lifecycle.options';
import type { StorageOptions } from './storage.options';
import type { SigningOptions } from './signing.options';
import { corsFromEnv } from './cors.options';
import type { UploadLimitOptions } from './upload-limits.options';

const SECRET_FILE = 'signing-secret';
const TOKEN_FILE = 'api-token';

/**
 * `lifecycle` from the environment over what the config files say: `SWEEP_ENABLED`,
 * `SWEEP_CRON`, `SWEEP_BATCH_SIZE`, `RECONCILE_ENABLED`, `RECONCILE_INTERVAL_SECONDS`,
 * `ORPHAN_GRACE_SECONDS`, `UPLOAD_LEASE_SECONDS`, `VERSION_GRACE_SECONDS`, `PURGE_INTERVAL_SECONDS`,
 * `STAGING_GRACE_SECONDS`, `TUS_EXPIRY_SECONDS`. Values are checked by the storage module.
 */
export function lifecycleFromEnv(env: NodeJS.ProcessEnv, files: LifecycleOptions = {}): LifecycleOptions {
  const pick = <T>(name: string, parse: (raw: string) => T): T | undefined =>
    env[name] === undefined || env[name] === '' ? undefined : parse(env[name] as string);
  const fromEnv: LifecycleOptions = {
    sweepEnabled: pick('SWEEP_ENABLED', (raw) => bool('SWEEP_ENABLED', raw)),
    sweepCron: pick('SWEEP_CRON', (raw) => raw),
    batchSize: pick('SWEEP_BATCH_SIZE', (raw) => whole('SWEEP_BATCH_SIZE', raw)),
    reconcileEnabled: pick('RECONCILE_ENABLED', (raw) => bool('RECONCILE_ENABLED', raw)),
    reconcileIntervalSeconds: pick('RECONCILE_INTERVAL_SECONDS', (raw) => whole('RECONCILE_INTERVAL_SECONDS', raw)),
    orphanGraceSeconds: pick('ORPHAN_GRACE_SECONDS', (raw) => whole('ORPHAN_GRACE_SECONDS', raw)),
    uploadLeaseSeconds: pick('UPLOAD_LEASE_SECONDS', (raw) => whole('UPLOAD_LEASE_SECONDS', raw)),
    versionGraceSeconds: pick('VERSION_GRACE_SECONDS', (raw) => whole('VERSION_GRACE_SECONDS', raw)),
    purgeIntervalSeconds: pick('PURGE_INTERVAL_SECONDS', (raw) => whole('PURGE_INTERVAL_SECONDS', raw)),
    stagingGraceSeconds: pick('STAGING_GRACE_SECONDS', (raw) => whole('STAGING_GRACE_SECONDS', raw)),
    resumableExpirySeconds: pick('TUS_EXPIRY_SECONDS', (raw) => whole('TUS_EXPIRY_SECONDS', raw)),
  };
  const defined = Object.fromEntries(Object.entries(fromEnv).filter(([, v]) => v !== undefined));
  return { ...files, ...defined };
}

/**
 * `UPLOAD_IDLE_TIMEOUT_SECONDS`, `MAX_CONCURRENT_UPLOADS`, `MAX_CONCURRENT_UPLOADS_PER_USER`: only
 * the variables that are set (the config files' values stay otherwise).
 */
export function uploadLimitsFromEnv(env: NodeJS.ProcessEnv): UploadLimitOptions {
  const variables = {
    uploadIdleTimeoutSeconds: 'UPLOAD_IDLE_TIMEOUT_SECONDS',
    maxConcurrentUploads: 'MAX_CONCURRENT_UPLOADS',
    maxConcurrentUploadsPerUser: 'MAX_CONCURRENT_UPLOADS_PER_USER',
  } as const;
  const out: UploadLimitOptions = {};
  for (const [field, name] of Object.entries(variables) as Array<[keyof UploadLimitOptions, string]>) {
    if (env[name] !== undefined && env[name] !== '') out[field] = whole(name, env[name] as string);
  }
  return out;
}

/**
 * `signing`: the HMAC secret from `SIGNING_SECRET`, else the config files, else one made on the
 * first start and kept in DATA_DIR (replicas must then share DATA_DIR, or set SIGNING_SECRET);
 * `SIGNED_URL_TTL` seconds.
 */
export function signingFromEnv(env: NodeJS.ProcessEnv, dataDir: string, files: SigningOptions = {}): SigningOptions {
  const ttl = env.SIGNED_URL_TTL ? whole('SIGNED_URL_TTL', env.SIGNED_URL_TTL) : files.ttlSeconds;
  const secret = env.SIGNING_SECRET || files.secret || keptSecret(dataDir);
  return { ...files, secret, ...(ttl !== undefined ? { ttlSeconds: ttl } : {}) };
}

function keptSecret(dataDir: string): string {
  const file = path.join(dataDir, SECRET_FILE);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dataDir, { recursive: true });
    try {
      fs.writeFileSync(file, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
      new Logger('Config').log(`SIGNING_SECRET is not set: made one in ${file}`);
    } catch (err) {
      // Another replica on the same DATA_DIR made it first: use theirs.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  return fs.readFileSync(file, 'utf8').trim();
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

/** `1048576`, `512KB`, `100MB`, `5GB` (powers of 1024). */
export function parseSize(raw: string, name: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$/i.exec(raw);
  if (!match) throw new Error(`${name} must be a size like 100MB (got '${raw}')`);
  const unit = (match[2] ?? '').toLowerCase().replace(/i?b$/, '');
  const power = { '': 0, k: 1, m: 2, g: 3, t: 4 }[unit] ?? 0;
  return Math.floor(Number(match[1]) * 1024 ** power);
}

function bool(name: string, raw: string): boolean {
  if (/^(true|1|yes|on)$/i.test(raw)) return true;
  if (/^(false|0|no|off)$/i.test(raw)) return false;
  throw new Error(`${name} must be true or false (got '${raw}')`);
}

function whole(name: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a whole number (got '${raw}')`);
  return value;
}

/** Where `readStorageOptions` looks. Every field has a default. */
export interface LoadStorageOptionsParams {
  /** The environment (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Folder of `default.yaml` and `<NODE_ENV>.yaml` (default `./config`). */
  configDir?: string;
  /** Where a made API token and signing secret are kept (default `DATA_DIR`, else `./data`). */
  dataDir?: string;
}

/**
 * The module's options from configuration files and the environment, as README documents them:
 * the files (`config/default.yaml`, `config/<NODE_ENV>.yaml`, `STORAGE_CONFIG`) with `${VAR}`
 * placeholders, then `PUBLIC_URL`, `API_TOKENS` (with `API_TOKEN_SCOPES`), `MAX_UPLOAD_SIZE`, the upload limits, the lifecycle variables,
 * `SIGNING_SECRET`/`SIGNED_URL_TTL` and `REDIS_URL` (the public rate limits' shared counts) over them. Throws naming the variable when one is malformed;
 * the instances themselves are checked when the module starts.
 */
export function readStorageOptions(params: LoadStorageOptionsParams = {}): StorageOptions {
  const env = params.env ?? process.env;
  const dataDir = path.resolve(params.dataDir ?? (env.DATA_DIR || './data'));
  const files = loadConfigFiles({ DATA_DIR: dataDir, ...env }, params.configDir) as Partial<StorageOptions>;
  const maxUploadSize = env.MAX_UPLOAD_SIZE ? parseSize(env.MAX_UPLOAD_SIZE, 'MAX_UPLOAD_SIZE') : files.maxUploadSize;
  return {
    ...files,
    ...uploadLimitsFromEnv(env),
    storages: files.storages ?? {},
    publicBaseUrl: env.PUBLIC_URL || files.publicBaseUrl,
    apiTokens: withEnvLimits(files.apiTokens ?? resolveApiTokens(env, dataDir), env.API_TOKEN_SCOPES),
    baseDir: files.baseDir ?? process.cwd(),
    ...(maxUploadSize !== undefined ? { maxUploadSize } : {}),
    lifecycle: lifecycleFromEnv(env, files.lifecycle),
    signing: signingFromEnv(env, dataDir, files.signing),
    cors: corsFromEnv(env.CORS_ORIGINS, files.cors),
    ...(env.REDIS_URL && files.rateLimit !== false ? { rateLimit: { ...files.rateLimit, redis: env.REDIS_URL } } : {}),
  };
}
