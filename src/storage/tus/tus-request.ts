import { AsyncLocalStorage } from 'node:async_hooks';
import type { UploadPlan } from '../upload/upload.types';
import type { UploadChecksum } from './upload-checksum';

/**
 * What the HTTP layer knows of one tus request and `@tus/server` does not carry to its hooks and
 * store: the caller, its limits (`authorize`), the endpoint's path as the client reached it, the
 * PATCH's checksum and declared length. Set around `Server.handle` (`TUS_REQUEST.run`).
 */
export interface TusRequest {
  /** The token's user name: the upload's owner. */
  user: string | undefined;
  /** Throws unless the caller may write `key` of `storage` (scopes, instances, prefix). */
  authorize: (storage: string, key: string) => void;
  /** `/{prefix}/tus` as the client reached it (a host's global prefix included): `Location` is under it. */
  endpoint: string;
  checksum?: UploadChecksum;
  /** The request's `Content-Length`, when sent. */
  declaredLength?: number;
  /** Set by the creation hook for the store: the plan of the upload being created. */
  plan?: UploadPlan;
}

export const TUS_REQUEST = new AsyncLocalStorage<TusRequest>();

/** The current tus request; only inside `TUS_REQUEST.run`. */
export function tusRequest(): TusRequest {
  const current = TUS_REQUEST.getStore();
  if (!current) throw new Error('no tus request in scope: call the tus server through TusService.handle');
  return current;
}
