import { Readable } from 'node:stream';
import { In, LessThan, type Repository } from 'typeorm';
import { createHash } from 'node:crypto';
import { RESERVED_PREFIX } from '../keys/keys';
import type { StorageInstance } from '../registry/storage-registry';
import type { RenderedImage } from './thumbnail-renderer';
import { ThumbnailEntity } from '../database/entities/thumbnail.entity';

/** The source a derivative belongs to: its instance, object hash and content hash. */
export interface DerivativeSource {
  instance: StorageInstance;
  /** The source object's `objectHash`: derivatives belong to one immutable object (one version). */
  keyHash: string;
  md5: string;
}

const ROWS_KEPT = 2000;
const ROW_TTL_MS = 60_000;

/**
 * Derived images in the source's own backend, under `.thumbnails/{keyHash}/{md5}/{params}.{ext}`
 * (a prefix user keys cannot take), each with a row so a repeat request is a lookup. `keyHash`
 * is the source object's hash (`objectHash`): a derivative belongs to exactly one immutable
 * object, one version of a path, and goes when that object leaves storage. A newer version of the
 * path is another object, so it never shows an older version's thumbnail.
 *
 * Found rows are also kept in memory for a minute (bounded): a row is named by its source's
 * content hash and the caller has just checked that the source is live, so a kept row is stale
 * only if another replica removed its object meanwhile; reading it then fails once with a 404
 * and `forget` drops it, so the next request renders again.
 */
export class DerivativeStore {
  private readonly known = new Map<string, { row: ThumbnailEntity; until: number }>();

  constructor(private readonly rows: Repository<ThumbnailEntity>) {}

  async find(source: DerivativeSource, params: string): Promise<ThumbnailEntity | null> {
    const id = `${source.keyHash}/${source.md5}/${params}`;
    const kept = this.known.get(id);
    if (kept && kept.until > Date.now()) return kept.row;
    this.known.delete(id);
    const row = await this.rows.findOne({ where: { sourceKeyHash: source.keyHash, sourceMd5: source.md5, params } });
    if (row) {
      if (this.known.size >= ROWS_KEPT) this.known.delete(this.known.keys().next().value as string);
      this.known.set(id, { row, until: Date.now() + ROW_TTL_MS });
    }
    return row;
  }

  /**
   * Stores the object, then the row, unless the source already has `cap` derivatives: then the
   * image is only described (a row that is not saved, `stored: false`) and served from memory.
   * Two writers of one derivative (replicas) write the same key with equivalent bytes; the unique
   * index keeps one row, and the row read back is returned. Writers of different derivatives
   * racing past the count both insert; the one whose row is not among the source's first `cap`
   * (by id) then removes its own, so the bound holds once they settle.
   */
  async save(
    source: DerivativeSource,
    params: string,
    image: RenderedImage,
    cap: number,
  ): Promise<{ row: ThumbnailEntity; stored: boolean }> {
    const derivedKey = `${prefixOf(source.keyHash)}${source.md5}/${params}.${image.format}`;
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
    const where = { sourceKeyHash: source.keyHash, sourceMd5: source.md5 };
    if ((await this.rows.count({ where })) >= cap) return { row, stored: false };
    await source.instance.driver.put(derivedKey, Readable.from([image.data]), {
      size: image.data.length,
      contentType: image.contentType,
    });
    await this.rows.createQueryBuilder().insert().values(row).orIgnore().execute();
    const saved = await this.find(source, params);
    if (!saved) return { row, stored: false }; // removed meanwhile (the source went): serve it unstored
    if ((await this.rows.count({ where: { ...where, id: LessThan(saved.id) } })) >= cap) {
      await source.instance.driver.delete(derivedKey);
      await this.forget(saved);
      return { row, stored: false };
    }
    return { row: saved, stored: true };
  }

  /**
   * Removes every derivative of the object `keyHash` names: the rows and their objects, then
   * whatever is left under its prefix (an object whose row was never written).
   */
  async removeAll(instance: StorageInstance, keyHash: string): Promise<void> {
    await this.removeRows(instance, await this.rows.find({ where: { sourceKeyHash: keyHash } }));
    for await (const object of instance.driver.list(prefixOf(keyHash))) await instance.driver.delete(object.key);
  }

  /** Of `keys` (derived keys in `instance`), those that no row names: renders that died half-way. */
  async unrecorded(instance: StorageInstance, keys: string[]): Promise<Set<string>> {
    const rows = await this.rows.find({
      select: { derivedKey: true },
      where: { storeFullName: instance.name, derivedKey: In(keys) },
    });
    const recorded = new Set(rows.map((r) => r.derivedKey));
    return new Set(keys.filter((k) => !recorded.has(k)));
  }

  /** Forgets the row of one derived key (its object is being removed). */
  async forgetKey(instance: StorageInstance, derivedKey: string): Promise<void> {
    const row = await this.rows.findOne({ where: { storeFullName: instance.name, derivedKey } });
    if (row) await this.forget(row);
  }

  /** Forgets every row of a source that no longer exists (its objects are removed one by one). */
  async forgetSource(keyHash: string): Promise<void> {
    for (const id of [...this.known.keys()]) if (id.startsWith(`${keyHash}/`)) this.known.delete(id);
    await this.rows.delete({ sourceKeyHash: keyHash });
  }

  /** Forgets a row whose object has gone missing, so the next request renders it again. */
  async forget(row: ThumbnailEntity): Promise<void> {
    this.known.delete(`${row.sourceKeyHash}/${row.sourceMd5}/${row.params}`);
    await this.rows.delete({ id: row.id });
  }

  private async removeRows(instance: StorageInstance, rows: ThumbnailEntity[]): Promise<void> {
    for (const row of rows) {
      await instance.driver.delete(row.derivedKey);
      await this.forget(row);
    }
  }
}

function prefixOf(keyHash: string): string {
  return `${RESERVED_PREFIX}/${keyHash}/`;
}

/** The source a derived key (`.thumbnails/{keyHash}/{md5}/...`) belongs to, if it is one. */
export function sourceOf(derivedKey: string): { keyHash: string; md5: string } | undefined {
  const [first, keyHash, md5] = derivedKey.split('/');
  const hex = /^[a-f0-9]{32}$/;
  return first.toLowerCase() === RESERVED_PREFIX && hex.test(keyHash ?? '') && hex.test(md5 ?? '')
    ? { keyHash, md5 }
    : undefined;
}
