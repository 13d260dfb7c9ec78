import { optionalHttpUrl, type RawOptions } from '../../config/option-readers';

export const MEMORY_TYPE = 'storages.MemoryType';

export type MemoryDriverOptions = {
  /** Base URL `publicUrl` builds object URLs on, as a CDN would serve them; none by default. */
  publicUrl?: string;
};

/** A `storages.MemoryType` instance as configured (in a host's tests). */
export type MemoryInstanceOptions = { type: typeof MEMORY_TYPE } & MemoryDriverOptions;

/** Reads an in-memory instance's options; throws a `ConfigError` naming the bad one. */
export function parseMemoryOptions(raw: RawOptions, field: string): MemoryDriverOptions {
  return { publicUrl: optionalHttpUrl(raw, 'publicUrl', field) };
}
