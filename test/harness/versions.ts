import { createCipheriv, randomBytes } from 'node:crypto';
import { md5 } from './lifecycle';

/**
 * Random bodies that can be made again from a 32-byte seed (an AES-CTR keystream), so a test
 * can keep every version it uploads (md5 → body) without holding megabytes per version.
 */
export class VersionBook {
  private readonly seeds = new Map<string, { seed: Buffer; size: number }>();
  private readonly cache = new Map<string, Buffer>();

  /** A new random body of `size` bytes, remembered under its md5. */
  make(size: number): { md5: string; body: Buffer } {
    const seed = randomBytes(32);
    const body = expand(seed, size);
    const hash = md5(body);
    this.seeds.set(hash, { seed, size });
    return { md5: hash, body };
  }

  has(hash: string): boolean {
    return this.seeds.has(hash);
  }

  size(hash: string): number | undefined {
    return this.seeds.get(hash)?.size;
  }

  /** The body made under `hash`, or undefined when this book never made it. */
  body(hash: string): Buffer | undefined {
    const entry = this.seeds.get(hash);
    if (!entry) return undefined;
    let body = this.cache.get(hash);
    if (!body) {
      body = expand(entry.seed, entry.size);
      if (this.cache.size >= 16) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(hash, body);
    }
    return body;
  }

  get count(): number {
    return this.seeds.size;
  }
}

/** A size between `min` and `max` bytes, log-uniform: as many small bodies as large ones. */
export function randomSize(min: number, max: number): number {
  return Math.round(min * (max / min) ** Math.random());
}

function expand(seed: Buffer, size: number): Buffer {
  return createCipheriv('aes-256-ctr', seed, Buffer.alloc(16)).update(Buffer.alloc(size));
}
