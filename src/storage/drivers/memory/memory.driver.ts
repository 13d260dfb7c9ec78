import { Readable } from 'node:stream';
import { StorageError } from '../../errors/storage.error';
import { toStorageError } from '../shared/backend-errors';
import { bindSignal } from '../shared/deadline';
import { publicUrlOf } from '../shared/public-url';
import type { GetOptions, ObjectStat, PutOptions, StorageDriver } from '../storage-driver';
import { MEMORY_TYPE, type MemoryDriverOptions } from './memory.options';

interface StoredObject {
  data: Buffer;
  contentType: string;
  lastModified: Date;
}

/** Size of the chunks `get` streams out. */
const READ_CHUNK = 64 * 1024;

/**
 * Objects held in process memory, one Buffer per key: a test double for hosts' tests (as FlyDrive's
 * fakes and Laravel's `Storage::fake`), built directly or configured as `storages.MemoryType`.
 * It keeps the same contract as the disk and cloud drivers (the contract suite runs against it).
 * Every byte stays in memory and is gone when the process ends: not for real data.
 *
 * Like local disk it has no native signed uploads (`signUpload` is absent: the service signs URLs
 * to its own upload route) and no network, so nothing can time out.
 */
export class MemoryDriver implements StorageDriver {
  readonly type = MEMORY_TYPE;
  private readonly objects = new Map<string, StoredObject>();

  constructor(private readonly options: MemoryDriverOptions = {}) {}

  /**
   * Reads the whole body, then stores a copy of it under `key` in one step: a body that errors or
   * a signal that aborts leaves the key as it was. Body errors that are `StorageError`s keep their
   * code; an abort is `E_ABORTED`.
   */
  async put(key: string, body: Readable, options: PutOptions = {}): Promise<ObjectStat> {
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of bindSignal(body, options.signal)) {
        chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
      }
    } catch (err) {
      throw toStorageError(err, key, 'memory', {});
    }
    const object: StoredObject = {
      // concat copies, so the caller's buffers can change afterwards without touching the object.
      data: Buffer.concat(chunks),
      contentType: options.contentType ?? 'application/octet-stream',
      lastModified: new Date(),
    };
    this.objects.set(key, object);
    return statOf(key, object);
  }

  /** Streams the object's bytes as they are now; a later put or delete does not change an open read. */
  async get(key: string, options: GetOptions = {}): Promise<Readable> {
    const { data } = this.find(key);
    const { range, signal } = options;
    const bytes = range ? data.subarray(range.start, range.end + 1) : data;
    return bindSignal(Readable.from(chunksOf(bytes), { objectMode: false }), signal);
  }

  async stat(key: string): Promise<ObjectStat> {
    return statOf(key, this.find(key));
  }

  async exists(key: string): Promise<boolean> {
    return this.objects.has(key);
  }

  async delete(key: string): Promise<void> {
    this.objects.delete(key);
  }

  async copy(from: string, to: string): Promise<void> {
    this.objects.set(to, { ...this.find(from), lastModified: new Date() });
  }

  /** The objects under `prefix` as they were when the listing started. */
  async *list(prefix = ''): AsyncIterable<ObjectStat> {
    for (const [key, object] of [...this.objects]) {
      if (key.startsWith(prefix)) yield statOf(key, object);
    }
  }

  publicUrl(key: string): string | null {
    return publicUrlOf(this.options.publicUrl, key);
  }

  private find(key: string): StoredObject {
    const object = this.objects.get(key);
    if (!object) throw StorageError.notFound(key);
    return object;
  }
}

/** The driver for a configured instance. */
export function createDriver(options: MemoryDriverOptions): MemoryDriver {
  return new MemoryDriver(options);
}

function statOf(key: string, { data, contentType, lastModified }: StoredObject): ObjectStat {
  return { key, size: data.length, contentType, lastModified };
}

function* chunksOf(bytes: Buffer): Generator<Buffer> {
  for (let start = 0; start < bytes.length; start += READ_CHUNK) yield bytes.subarray(start, start + READ_CHUNK);
}
