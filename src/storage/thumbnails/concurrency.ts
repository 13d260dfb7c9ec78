import { StorageError, StorageErrorCode } from '../errors/storage.error';

/**
 * Runs at most `concurrency` tasks at once; the others wait in arrival order. A finished task
 * hands its slot straight to the next waiter. More than `maxQueue` waiters is refused with
 * `E_BACKEND_UNAVAILABLE` (503) rather than queued without bound.
 */
export class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    readonly concurrency: number,
    readonly maxQueue = Number.POSITIVE_INFINITY,
  ) {}

  get running(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active < this.concurrency) {
      this.active++;
    } else {
      if (this.waiting.length >= this.maxQueue) {
        throw new StorageError(
          StorageErrorCode.BACKEND_UNAVAILABLE,
          'too many thumbnails are being made; retry shortly',
        );
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

/**
 * One run per key at a time: callers that ask for a key already in flight share its promise
 * (and its result or error). In-process only; replicas rely on the derivative table's unique key.
 */
export class SingleFlight<T> {
  private readonly inFlight = new Map<string, Promise<T>>();

  run(key: string, task: () => Promise<T>): Promise<T> {
    const existing = this.inFlight.get(key);
    if (existing) return existing;
    const promise = task().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, promise);
    return promise;
  }

  get size(): number {
    return this.inFlight.size;
  }
}
