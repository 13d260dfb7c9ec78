import { isPlainObject } from '../config/load-config';
import { ConfigError } from '../config/storage-config';

/**
 * What a caller may do. `delete-any` also removes other users' references (records they
 * uploaded); `delete` alone removes only the caller's own. `admin`: the lifecycle routes.
 */
export const SCOPES = ['read', 'write', 'delete', 'delete-any', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/**
 * A caller's limits. Every field absent means unlimited, so a plain `name: token` keeps full
 * access. This is also what a host's own guard may put on `req.user` besides `name`.
 */
export interface AccessLimits {
  /** What the caller may do; absent: everything. */
  scopes?: readonly Scope[];
  /** Instances (element names) the caller may use; absent: all. */
  storages?: readonly string[];
  /** Keys the caller may use start with this (`alice/`); absent: any key. A plain string match. */
  prefix?: string;
}

/** `apiTokens` entry, richer form: the token and its limits. */
export interface ApiTokenOptions extends AccessLimits {
  token: string;
}

/** An `apiTokens` entry: a bare token (full access) or `{ token, scopes?, storages?, prefix? }`. */
export type ApiTokenConfig = string | ApiTokenOptions;

/** One token, checked, with its user name. */
export interface ResolvedApiToken extends AccessLimits {
  name: string;
  token: string;
}

/**
 * Checks `apiTokens` and returns one entry per user. `storages` must name configured instances
 * (`known`). Throws a `ConfigError` naming `apiTokens.<name>.<field>`.
 */
export function parseApiTokens(given: unknown, known: readonly string[]): ResolvedApiToken[] {
  if (given === undefined || given === null) return [];
  if (!isPlainObject(given)) throw new ConfigError('apiTokens', 'must map user names to tokens');
  return Object.entries(given).map(([name, entry]) => {
    const field = `apiTokens.${name}`;
    if (typeof entry === 'string') return { name, token: checkToken(entry, field) };
    if (!isPlainObject(entry)) throw new ConfigError(field, 'must be a token or { token, scopes, storages, prefix }');
    const unknown = Object.keys(entry).filter((k) => !['token', 'scopes', 'storages', 'prefix'].includes(k));
    if (unknown.length > 0) throw new ConfigError(`${field}.${unknown[0]}`, 'is not a token option');
    const scopes = optionalList(entry.scopes, `${field}.scopes`, SCOPES) as Scope[] | undefined;
    const storages = optionalList(entry.storages, `${field}.storages`, known);
    return {
      name,
      token: checkToken(entry.token, `${field}.token`),
      ...(scopes ? { scopes } : {}),
      ...(storages ? { storages } : {}),
      ...optionalPrefix(entry.prefix, `${field}.prefix`),
    };
  });
}

function checkToken(token: unknown, field: string): string {
  if (typeof token !== 'string' || token.trim() === '') {
    throw new ConfigError(field, 'a non-empty token is required');
  }
  return token;
}

function optionalList(value: unknown, field: string, allowed: readonly string[]): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw new ConfigError(field, `must be a list of: ${allowed.join(', ')}`);
  for (const item of value) {
    if (typeof item !== 'string' || !allowed.includes(item)) {
      throw new ConfigError(field, `'${String(item).slice(0, 64)}' is not one of: ${allowed.join(', ')}`);
    }
  }
  return [...new Set(value as string[])];
}

// Control characters, a backslash, or a `.`/`..` segment: never in a key.
// eslint-disable-next-line no-control-regex
const NOT_IN_KEYS = /[\u0000-\u001f\u007f\\]|(^|\/)\.{1,2}(\/|$)/;

function optionalPrefix(value: unknown, field: string): { prefix?: string } {
  if (value === undefined || value === null || value === '') return {};
  // The key rules (keys/) sit on this floor: the prefix is checked as far as a key is, and
  // compared with normalized keys, so a prefix no key can match would only lock its user out.
  if (typeof value !== 'string' || value.startsWith('/') || NOT_IN_KEYS.test(value)) {
    throw new ConfigError(field, "must be a relative key prefix such as 'alice/'");
  }
  return { prefix: value.normalize('NFC') };
}

/**
 * `API_TOKEN_SCOPES`: a JSON object of limits by user name, applied to the tokens of
 * `API_TOKENS` (`{"alice":{"scopes":["read"],"prefix":"alice/"}}`). JSON because a token may
 * hold any character but a comma, so no extra syntax inside `API_TOKENS` could be unambiguous.
 */
export function withEnvLimits(
  tokens: Record<string, ApiTokenConfig>,
  raw: string | undefined,
): Record<string, ApiTokenConfig> {
  if (!raw) return tokens;
  let limits: unknown;
  try {
    limits = JSON.parse(raw);
  } catch {
    throw new Error('API_TOKEN_SCOPES must be a JSON object such as {"alice":{"scopes":["read"]}}');
  }
  if (!isPlainObject(limits)) throw new Error('API_TOKEN_SCOPES must be a JSON object of limits by user name');
  const out: Record<string, ApiTokenConfig> = { ...tokens };
  for (const [name, limit] of Object.entries(limits)) {
    const token = tokens[name];
    if (token === undefined) throw new Error(`API_TOKEN_SCOPES names '${name}', which has no token in API_TOKENS`);
    if (!isPlainObject(limit) || 'token' in limit) {
      throw new Error(`API_TOKEN_SCOPES.${name} must be an object of scopes, storages and prefix (no token)`);
    }
    out[name] = { ...(typeof token === 'string' ? { token } : token), ...(limit as AccessLimits) };
  }
  return out;
}
