/** Token of the per-instance driver provider for element name `name`. */
export const storageDriverToken = (name: string): string => `StorageDriver:${name}`;
/** The HTTP API's route prefix (a module extra), used to build record `url`s. */
export const STORAGE_ROUTE_PREFIX = Symbol('STORAGE_ROUTE_PREFIX');
