import { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LifecycleOptions } from '../storage/options/lifecycle.options';
import type { SigningOptions } from '../storage/options/signing.options';

const SECRET_FILE = 'signing-secret';

/**
 * `lifecycle` from the environment over what the config files say: `SWEEP_ENABLED`,
 * `SWEEP_CRON`, `SWEEP_BATCH_SIZE`, `RECONCILE_ENABLED`, `RECONCILE_INTERVAL_SECONDS`,
 * `ORPHAN_GRACE_SECONDS`, `UPLOAD_LEASE_SECONDS`, `VERSION_GRACE_SECONDS`, `PURGE_INTERVAL_SECONDS`. Values are checked by the storage module.
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
  };
  const defined = Object.fromEntries(Object.entries(fromEnv).filter(([, v]) => v !== undefined));
  return { ...files, ...defined };
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
