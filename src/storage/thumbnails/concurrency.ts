import { StorageError, StorageErrorCode } from '../errors/storage.error';

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Runs at most `concurrency` tasks at once; the others wait, queued per client and served in
 * turn (round robin between clients, arrival order within one), so one client flooding the queue
 * delays another by at most one task per flooding client. A finished task hands its slot straight
 * to the next waiter. Past `maxQueuePerClient` waiters of one client, that client is refused with
 * `E_TOO_MANY_REQUESTS` (429, `Retry-After: 1`). Past `maxQueue` waiters in all, the newest
 * waiter of the longest queue makes room for a client with a shorter one, else the newcomer is
 * refused with `E_BACKEND_UNAVAILABLE` (503): a full queue
 * cannot lock out a client that has little waiting.
 */
export class Limiter {
  private active = 0;
  private total = 0;
  /** Waiters by client; the Map's order is the rotation (a served client moves to the end). */
  private readonly queues = new Map<string, Waiter[]>();

  constructor(
    readonly concurrency: number,
    readonly maxQueue = Number.POSITIVE_INFINITY,
    readonly maxQueuePerClient = Number.POSITIVE_INFINITY,
  ) {}

  get running(): number {
    return this.active;
  }

  get queued(): number {
    return this.total;
  }

  async run<T>(task: () => Promise<T>, client = ''): Promise<T> {
    if (this.active < this.concurrency) this.active++;
    else await this.wait(client);
    try {
      return await task();
    } finally {
      this.next();
    }
  }

  private wait(client: string): Promise<void> {
    const mine = this.queues.get(client) ?? [];
    if (mine.length >= this.maxQueuePerClient) {
      throw new StorageError(
        StorageErrorCode.TOO_MANY_REQUESTS,
        'you have too many thumbnails waiting to be made; retry shortly',
        { retryAfterSeconds: 1, reason: 'client_queue_full' },
      );
    }
    if (this.total >= this.maxQueue) this.makeRoom(client, mine.length);
    return new Promise<void>((resolve, reject) => {
      mine.push({ resolve, reject });
      if (mine.length === 1) this.queues.set(client, mine);
      this.total++;
    });
  }

  /** Drops the newest waiter of the longest queue when it is longer than `client`'s, else refuses. */
  private makeRoom(client: string, mine: number): void {
    let longest: [string, Waiter[]] | undefined;
    for (const [other, queue] of this.queues) {
      if (other !== client && queue.length > (longest?.[1].length ?? mine)) longest = [other, queue];
    }
    if (!longest) throw busy('too many thumbnails are being made');
    const [other, queue] = longest;
    queue.pop()?.reject(busy('too many thumbnails are being made'));
    if (queue.length === 0) this.queues.delete(other);
    this.total--;
  }

  private next(): void {
    const first = this.queues.entries().next();
    if (first.done) {
      this.active--;
      return;
    }
    const [client, queue] = first.value;
    const waiter = queue.shift() as Waiter;
    this.queues.delete(client);
    if (queue.length > 0) this.queues.set(client, queue);
    this.total--;
    waiter.resolve();
  }
}

function busy(what: string): StorageError {
  return new StorageError(StorageErrorCode.BACKEND_UNAVAILABLE, `${what}; retry shortly`, { reason: 'queue_full' });
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
