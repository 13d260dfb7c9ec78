import { Readable } from 'node:stream';
import { Not, type Repository } from 'typeorm';
import { createHash } from 'node:crypto';
import { RESERVED_PREFIX } from '../keys';
import type { StorageInstance } from '../storage-registry';
import type { RenderedImage } from './thumbnail-renderer';
import { ThumbnailEntity } from './thumbnail.entity';

/** The source a derivative belongs to: its instance, key hash and content hash. */
export interface DerivativeSource {
  instance: StorageInstance;
  keyHash: string;
  md5: string;
}

/**
 * Derived images in the source's own backend, under `.thumbnails/{keyHash}/{md5}/{params}.{ext}`
 * (a prefix user keys cannot take), each with a row so a repeat request is a lookup. The key
 * holds the source's key hash, so a derivative belongs to exactly one source and goes with it.
 */
export class DerivativeStore {
  constructor(private readonly rows: Repository<ThumbnailEntity>) {}

  find(source: DerivativeSource, params: string): Promise<ThumbnailEntity | null> {
    return this.rows.findOne({ where: { sourceKeyHash: source.keyHash, sourceMd5: source.md5, params } });
  }

  /**
   * Stores the object, then the row. Two writers of one derivative (replicas) write the same key
   * with equivalent bytes; the unique index keeps one row, and the row read back is returned.
   */
  async save(source: DerivativeSource, params: string, image: RenderedImage): Promise<ThumbnailEntity> {
    const derivedKey = `${prefixOf(source.keyHash)}${source.md5}/${params}.${image.format}`;
    await source.instance.driver.put(derivedKey, Readable.from([image.data]), {
      size: image.data.length,
      contentType: image.contentType,
    });
    const row = this.rows.create({
      storeFullName: source.instance.name,
      sourceKeyHash: source.keyHash,
      sourceMd5: source.md5,
      params,
      derivedKey,
      md5: createHash('md5').update(image.data).digest('hex'),
      size: image.data.length,
      type: image.contentType,
      created: Date.now(),
    });
    await this.rows.createQueryBuilder().insert().values(row).orIgnore().execute();
    return (await this.find(source, params)) ?? row;
  }

  /** Removes the derivatives of a source's older contents (the key now holds other bytes). */
  async removeStale(source: DerivativeSource): Promise<void> {
    const stale = await this.rows.find({ where: { sourceKeyHash: source.keyHash, sourceMd5: Not(source.md5) } });
    await this.removeRows(source.instance, stale);
  }

  /**
   * Removes every derivative of the object `keyHash` names: the rows and their objects, then
   * whatever is left under its prefix (an object whose row was never written).
   */
  async removeAll(instance: StorageInstance, keyHash: string): Promise<void> {
    await this.removeRows(instance, await this.rows.find({ where: { sourceKeyHash: keyHash } }));
    for await (const object of instance.driver.list(prefixOf(keyHash))) await instance.driver.delete(object.key);
  }

  /** Forgets a row whose object has gone missing, so the next request renders it again. */
  async forget(row: ThumbnailEntity): Promise<void> {
    await this.rows.delete({ id: row.id });
  }

  private async removeRows(instance: StorageInstance, rows: ThumbnailEntity[]): Promise<void> {
    for (const row of rows) {
      await instance.driver.delete(row.derivedKey);
      await this.rows.delete({ id: row.id });
    }
  }
}

function prefixOf(keyHash: string): string {
  return `${RESERVED_PREFIX}/${keyHash}/`;
}
