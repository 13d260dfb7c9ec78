/** The auth guard every storage route runs (swap it with `forRoot({ authGuard })`). */
export const STORAGE_AUTH_GUARD = Symbol('STORAGE_AUTH_GUARD');
/** Route metadata key set by `@Public()`. */
export const IS_PUBLIC_KEY = 'storage:isPublic';
/** Token of the per-instance driver provider for element name `name`. */
export const storageDriverToken = (name: string): string => `StorageDriver:${name}`;
/** The HTTP API's route prefix (a module extra), used to build record `url`s. */
export const STORAGE_ROUTE_PREFIX = Symbol('STORAGE_ROUTE_PREFIX');
