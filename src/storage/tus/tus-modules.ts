import type * as TusServer from '@tus/server';
import type * as TusUtils from '@tus/utils';

/*
 * `@tus/server` and `@tus/utils` are ES modules. Node (20.19 and newer) loads them from CommonJS,
 * but a host's Jest on Node before 24.9 loads CommonJS only: they are required on first use (the
 * first tus request), so that importing the library never loads them and a host that does not
 * test tus needs no Jest setting for them.
 */

/** `@tus/utils`, loaded on first use. */
export function tusUtils(): typeof TusUtils {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('@tus/utils') as typeof TusUtils;
}

/** `@tus/server`, loaded on first use. */
export function tusServer(): typeof TusServer {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('@tus/server') as typeof TusServer;
}
