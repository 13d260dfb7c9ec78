import type { OpenObject, StorageDriver } from '../storage-driver';

/**
 * `key` opened for a response: the driver's own `open` where it has one (one open for stat and
 * bytes), else its `stat` now and a `get` when the bytes are asked for (nothing is held between).
 */
export async function openObject(driver: StorageDriver, key: string): Promise<OpenObject> {
  if (driver.open) return driver.open(key);
  const stat = await driver.stat(key);
  return {
    stat,
    stream: (range, signal) => driver.get(key, { range, signal }),
    close: () => undefined,
  };
}
