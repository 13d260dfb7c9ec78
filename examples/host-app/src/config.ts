import * as os from 'node:os';
import * as path from 'node:path';
import type { StorageInstanceOptions } from 'storage-svc';

/** What this application is configured with; `configFromEnv` reads it from the environment. */
export interface HostConfig {
  /** Address and port to listen on (port 0: any free port). */
  host: string;
  port: number;
  /** The absolute URL clients reach this application at: the storage records' `url`s point under it. */
  publicBaseUrl: string;
  /** Holds the SQLite database and the stored files. */
  dataDir: string;
  /** Where multer writes an upload before it is stored; each file is removed once stored. */
  uploadTmpDir: string;
  /** Bearer tokens for the storage module's own routes (`/files-api/...`), by user name. */
  apiTokens: Record<string, string>;
  /** HMAC secret of the storage module's signed upload URLs (one made per start when unset). */
  signingSecret?: string;
  /** Storage instances besides the local `storages.Default` (an S3 archive, say). */
  extraStorages?: Record<string, StorageInstanceOptions>;
}

export const HOST_CONFIG = Symbol('HOST_CONFIG');

/** The storage module's routes live under this prefix, beside the app's own `/documents`. */
export const STORAGE_ROUTE_PREFIX = 'files-api';

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): HostConfig {
  const port = Number(env.PORT ?? 3000);
  const dataDir = path.resolve(env.DATA_DIR ?? './data');
  const token = env.STORAGE_API_TOKEN;
  if (!token) throw new Error('STORAGE_API_TOKEN must be set (the bearer token of /files-api)');
  return {
    host: env.HOST ?? '0.0.0.0',
    port,
    publicBaseUrl: env.PUBLIC_URL ?? `http://localhost:${port}`,
    dataDir,
    uploadTmpDir: env.UPLOAD_TMP_DIR ?? path.join(os.tmpdir(), 'host-app-uploads'),
    apiTokens: { admin: token },
    signingSecret: env.SIGNING_SECRET,
  };
}
