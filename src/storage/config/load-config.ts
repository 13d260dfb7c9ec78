import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';

/**
 * Reads the configuration files: `config/default.yaml`, then `config/<NODE_ENV>.yaml`, then
 * the file named by `STORAGE_CONFIG` (YAML or JSON), each merged over the one before.
 * `${VAR}` and `${VAR:-fallback}` in string values are replaced from the environment, so
 * secrets stay out of the files. Called from config factories, never at import time.
 */
export function loadConfigFiles(
  env: NodeJS.ProcessEnv = process.env,
  configDir = defaultConfigDir(),
): Record<string, unknown> {
  const files = [path.join(configDir, 'default.yaml')];
  if (env.NODE_ENV) files.push(path.join(configDir, `${env.NODE_ENV}.yaml`));
  let merged: Record<string, unknown> = {};
  for (const file of files) {
    if (existsSync(file)) merged = deepMerge(merged, readConfigFile(file));
  }
  if (env.STORAGE_CONFIG) {
    if (!existsSync(env.STORAGE_CONFIG)) {
      throw new Error(`STORAGE_CONFIG names a file that does not exist: ${env.STORAGE_CONFIG}`);
    }
    merged = deepMerge(merged, readConfigFile(env.STORAGE_CONFIG));
  }
  return interpolate(merged, env) as Record<string, unknown>;
}

function defaultConfigDir(): string {
  return path.resolve(process.cwd(), 'config');
}

function readConfigFile(file: string): Record<string, unknown> {
  const text = readFileSync(file, 'utf8');
  let value: unknown;
  try {
    value = file.endsWith('.json') ? JSON.parse(text) : parse(text);
  } catch (err) {
    throw new Error(`cannot parse configuration file ${file}: ${(err as Error).message}`);
  }
  if (value === null || value === undefined) return {};
  if (!isPlainObject(value)) throw new Error(`configuration file ${file} must hold an object`);
  return value;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const prev = out[key];
    out[key] = isPlainObject(prev) && isPlainObject(value) ? deepMerge(prev, value) : value;
  }
  return out;
}

const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export function interpolate(value: unknown, env: NodeJS.ProcessEnv): unknown {
  if (typeof value === 'string') {
    const whole = /^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}$/.exec(value);
    if (whole) {
      const resolved = env[whole[1]] ?? whole[2];
      return resolved === undefined || resolved === '' ? (whole[2] ?? undefined) : resolved;
    }
    return value.replace(PLACEHOLDER, (_m, name: string, fallback?: string) => env[name] || fallback || '');
  }
  if (Array.isArray(value)) return value.map((v) => interpolate(v, env));
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const resolved = interpolate(v, env);
      if (resolved !== undefined) out[k] = resolved;
    }
    return out;
  }
  return value;
}
