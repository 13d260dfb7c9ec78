import type { Type } from '@nestjs/common';

/** Token of the per-instance driver provider for element name `name`. */
export const storageDriverToken = (name: string): string => `StorageDriver:${name}`;
/** The HTTP API's route prefix (a module extra), used to build record `url`s. */
export const STORAGE_ROUTE_PREFIX = Symbol('STORAGE_ROUTE_PREFIX');

/** The module's HTTP side for one registration: its prefix and its routed controller classes. */
export interface StorageHttpParts {
  prefix: string;
  controllers: Type[];
}

/** Present only when the module serves its HTTP API (`http` is not false). */
export const STORAGE_HTTP = Symbol('STORAGE_HTTP');
