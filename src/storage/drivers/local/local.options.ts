import { optionalHttpUrl, type RawOptions, requireString } from '../../config/option-readers';

export const LOCAL_TYPE = 'storages.LocalType';

export type LocalDriverOptions = {
  /** Folder that holds the objects; created if missing. */
  root: string;
  /** Base URL the folder is served from publicly (a CDN or static server), if any. */
  publicUrl?: string;
};

/** A `storages.LocalType` instance as configured; a relative `root` is resolved against `baseDir`. */
export type LocalInstanceOptions = { type: typeof LOCAL_TYPE } & LocalDriverOptions;

/** Reads a local disk instance's options; throws a `ConfigError` naming the bad one. */
export function parseLocalOptions(raw: RawOptions, field: string): LocalDriverOptions {
  return { root: requireString(raw, 'root', field), publicUrl: optionalHttpUrl(raw, 'publicUrl', field) };
}
