import type { ObjectStat, StorageDriver } from '../storage-driver';
import { found } from './backend-errors';
import { type CloudDriverOptions, DEFAULT_TIMEOUT_MS } from './cloud.options';
import { withDeadline } from './deadline';
import { publicUrlOf } from './public-url';

/**
 * What the cloud drivers share: the metadata-call deadline with error mapping, `exists` in terms
 * of `stat`, and the public URL. Subclasses do the I/O.
 */
export abstract class CloudDriverBase implements Pick<StorageDriver, 'exists' | 'publicUrl'> {
  protected readonly timeoutMs: number;

  constructor(private readonly common: CloudDriverOptions) {
    this.timeoutMs = common.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** The backend's name in messages: `S3`, `OSS`, ... */
  protected abstract readonly backend: string;
  /** The driver's `mapXError`. */
  protected abstract mapError(err: unknown, key: string): Error;
  abstract stat(key: string): Promise<ObjectStat>;

  async exists(key: string): Promise<boolean> {
    return found(this.stat(key));
  }

  publicUrl(key: string): string | null {
    return publicUrlOf(this.common.publicUrl, key);
  }

  /**
   * Runs one request within `timeoutMs`, the SDK's retries included, leaving its failure unmapped
   * (a put maps once, at its end): each step of a put. A request still running when the time is up
   * is left to the SDK's own timeout, which is `timeoutMs` too.
   */
  protected within<T>(op: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return withDeadline(this.timeoutMs, this.backend, op);
  }

  /** Runs a metadata call within `timeoutMs` and maps its failure onto our codes. */
  protected async call<T>(key: string, op: (signal: AbortSignal) => Promise<T>): Promise<T> {
    try {
      return await withDeadline(this.timeoutMs, this.backend, op);
    } catch (err) {
      throw this.mapError(err, key);
    }
  }
}
