import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Readable } from 'node:stream';
import type { ObjectStat } from '../drivers/storage-driver';
import type { Repository } from 'typeorm';
import { isStorageError, StorageError, StorageErrorCode } from '../errors/storage.error';
import type { FileEntity } from '../database/entities/file.entity';
import { bufferBody, SANDBOX_CSP, type FileResponse } from '../serving/file-response';
import type { StorageInstance } from '../registry/storage-registry';
import { Limiter, SingleFlight } from './concurrency';
import { DerivativeStore, sourceOf, type DerivativeSource } from './derivative-store';
import { type ResolvedThumbnailOptions } from '../options/preview.options';
import { thumbnailParams, type ThumbnailParams, type ThumbnailRequestOptions } from './thumbnail-params';
import { assertImage, checkPixels, HEADER_BYTES, renderThumbnail } from './thumbnail-renderer';
import { ThumbnailEntity } from '../database/entities/thumbnail.entity';
import { InjectStorageOptions, type ResolvedStorageOptions } from '../options/resolved-options';
import { StorageMetrics } from '../metrics/storage-metrics';
import { thumbnailRefusalReason } from './thumbnail-refusals';

/** A live source file, as the service found it (expiry already checked). */
export interface ThumbnailSource {
  entity: FileEntity;
  instance: StorageInstance;
}

interface Made {
  row: ThumbnailEntity;
  data?: Buffer;
}

/**
 * Thumbnails, made once: a request first looks for the stored derivative (a row, then the
 * object: sharp is not touched); otherwise one render per derivative at a time (singleflight),
 * at most `concurrency` renders at once (the rest queue, fairly between clients), and the result
 * is stored in the source's backend before it is served.
 *
 * What bounds the cost of public requests: sizes snap to `presets` unless the caller may ask any
 * size (`anySize`), so an anonymous caller can name at most presets x fits x formats derivatives;
 * at most `maxDerivativesPerSource` are stored per source (later ones are rendered and served, not
 * stored); and each client has at most `maxQueuePerClient` renders waiting.
 */
@Injectable()
export class ThumbnailService {
  /** Renders done, stored derivatives served, and renders served without being stored (past the cap), since start. */
  readonly stats = { renders: 0, hits: 0, unstored: 0 };
  private readonly options: ResolvedThumbnailOptions;
  private readonly store: DerivativeStore;
  private readonly limiter: Limiter;
  private readonly flights = new SingleFlight<Made>();
  private readonly logger = new Logger(ThumbnailService.name);

  constructor(
    @InjectStorageOptions() options: ResolvedStorageOptions,
    @InjectRepository(ThumbnailEntity) rows: Repository<ThumbnailEntity>,
    private readonly metrics: StorageMetrics,
  ) {
    this.options = options.thumbnails;
    this.store = new DerivativeStore(rows);
    this.limiter = new Limiter(this.options.concurrency, this.options.maxQueue, this.options.maxQueuePerClient);
  }

  /**
   * The thumbnail of `source`: 400 for bad parameters, 415 for a non-image, 413 for a pixel bomb,
   * 503 when the render queue (or this client's share of it) is full. The size snaps to a preset
   * unless `request.anySize`.
   */
  async thumbnail(
    source: ThumbnailSource,
    width: number | undefined,
    height: number | undefined,
    request: ThumbnailRequestOptions = {},
  ): Promise<FileResponse> {
    try {
      const params = thumbnailParams(width, height, request, this.options);
      const from = toDerivativeSource(source);
      const stored = await this.store.find(from, params.key);
      const made = stored
        ? { row: stored }
        : await this.flights.run(`${from.keyHash}/${from.md5}/${params.key}`, () =>
            this.limiter.run(() => this.make(source, from, params), request.client ?? 'library'),
          );
      if (!made.data) {
        this.stats.hits++;
        this.metrics.thumbnailCacheHits.inc();
      }
      return this.response(source, params, made);
    } catch (err) {
      const reason = thumbnailRefusalReason(err);
      if (reason) this.metrics.thumbnailRefusals.inc({ reason });
      throw err;
    }
  }

  /**
   * Removes every derivative of the object `keyHash` names: called as that object leaves storage.
   * A failure is logged, not thrown: the source is already gone, and failing its removal would
   * leave the caller unable to retry it (a second delete finds nothing and answers 404).
   */
  async removeDerivatives(instance: StorageInstance, keyHash: string): Promise<void> {
    await this.store.removeAll(instance, keyHash).catch((err: unknown) => {
      this.logger.warn(`thumbnails of source ${keyHash} in ${instance.name} were not all removed: ${String(err)}`);
    });
  }

  /**
   * For the reconciler: of `objects` (stored under `.thumbnails/`, already past the grace
   * period), removes those whose source is gone (`sources` has no entry for its key hash: the
   * source's rows go too), those of content the source no longer holds (`sources` maps key
   * hashes to their current md5: an overwritten file), and those no row records.
   * Returns how many objects it removed.
   */
  async removeOrphans(
    instance: StorageInstance,
    objects: ObjectStat[],
    sources: Map<string, string | null>,
  ): Promise<number> {
    const unrecorded = await this.store.unrecorded(
      instance,
      objects.map((o) => o.key),
    );
    const goneSources = new Set<string>();
    let removed = 0;
    for (const object of objects) {
      const source = sourceOf(object.key);
      const gone = source === undefined || !sources.has(source.keyHash);
      const stale = !gone && sources.get(source.keyHash) !== source.md5;
      if (!gone && !stale && !unrecorded.has(object.key)) continue;
      await instance.driver.delete(object.key);
      if (gone && source) goneSources.add(source.keyHash);
      else if (stale) await this.store.forgetKey(instance, object.key);
      removed++;
    }
    for (const keyHash of goneSources) await this.store.forgetSource(keyHash);
    return removed;
  }

  private async make(source: ThumbnailSource, from: DerivativeSource, params: ThumbnailParams): Promise<Made> {
    const found = await this.store.find(from, params.key); // made while this waited its turn
    if (found) return { row: found };
    const input = await this.readSource(source);
    this.stats.renders++;
    const rendered = this.metrics.thumbnailRenderDuration.startTimer();
    const image = await renderThumbnail(input, params, this.options).finally(() => rendered());
    const { row, stored } = await this.store.save(from, params.key, image, this.options.maxDerivativesPerSource);
    this.metrics.thumbnailRenders.inc({ stored: String(stored) });
    if (!stored) this.stats.unstored++;
    // The source may have been deleted while this rendered; then nothing must outlive it.
    if (stored && !(await source.instance.driver.exists(source.entity.objectKey))) {
      await this.store.removeAll(source.instance, from.keyHash);
      throw StorageError.notFound(source.entity.name, source.instance.name);
    }
    return { row, data: image.data };
  }

  /**
   * The source's bytes, bounded by `maxSourceBytes` (sharp buffers a streamed input whole
   * anyway, since most decoders need random access). Non-images and pixel bombs are refused from
   * the first 64 KiB, before the rest is read or anything is decoded.
   */
  private async readSource({ entity, instance }: ThumbnailSource): Promise<Buffer> {
    if (entity.size > this.options.maxSourceBytes) throw StorageError.tooLarge(this.options.maxSourceBytes);
    const headEnd = Math.min(entity.size, HEADER_BYTES) - 1;
    const head = headEnd < 0 ? Buffer.alloc(0) : await readAll(instance, entity.objectKey, { start: 0, end: headEnd });
    assertImage(head, entity.name);
    await checkPixels(head, this.options.maxInputPixels);
    if (head.length >= entity.size) return head;
    return readAll(instance, entity.objectKey, undefined, this.options.maxSourceBytes);
  }

  private response(source: ThumbnailSource, params: ThumbnailParams, made: Made): FileResponse {
    const { row } = made;
    const { instance } = source;
    const stem = source.entity.fileName.replace(/\.[^.]*$/, '') || 'thumbnail';
    return {
      size: row.size,
      contentType: row.type,
      etag: `"${row.md5}"`,
      lastModified: new Date(row.created),
      disposition: 'inline',
      fileName: `${stem}.${row.derivedKey.slice(row.derivedKey.lastIndexOf('.') + 1)}`,
      cacheControl: this.options.cacheControl,
      headers: { 'Content-Security-Policy': SANDBOX_CSP, ...(params.negotiated ? { Vary: 'Accept' } : {}) },
      instance: instance.name,
      open: made.data
        ? bufferBody(made.data)
        : (range, signal) =>
            instance.driver.get(row.derivedKey, { range, signal }).catch(async (err: unknown) => {
              if (isStorageError(err, StorageErrorCode.NOT_FOUND)) await this.store.forget(row);
              throw err;
            }),
    };
  }
}

function toDerivativeSource({ entity, instance }: ThumbnailSource): DerivativeSource {
  return { instance, keyHash: entity.objectHash, md5: entity.md5 };
}

async function readAll(
  instance: StorageInstance,
  key: string,
  range?: { start: number; end: number },
  limit = Number.POSITIVE_INFINITY,
): Promise<Buffer> {
  const stream: Readable = await instance.driver.get(key, { range });
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (length > limit) {
      stream.destroy();
      throw StorageError.tooLarge(limit);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, length);
}
