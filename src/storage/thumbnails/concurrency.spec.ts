import { StorageErrorCode } from '../errors/storage.error';
import { Limiter, SingleFlight } from './concurrency';

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('Limiter', () => {
  it('runs at most `concurrency` tasks at once, the rest in arrival order', async () => {
    const limiter = new Limiter(2);
    const gates = Array.from({ length: 5 }, () => deferred());
    const started: number[] = [];
    let peak = 0;
    const runs = gates.map((gate, i) =>
      limiter.run(async () => {
        started.push(i);
        peak = Math.max(peak, limiter.running);
        await gate.promise;
        return i;
      }),
    );
    const settled = Promise.allSettled(runs);
    await tick();
    expect(started).toEqual([0, 1]);
    expect(limiter.queued).toBe(3);
    gates[1].resolve();
    await tick();
    expect(started).toEqual([0, 1, 2]);
    gates[0].reject(new Error('boom'));
    await tick();
    expect(started).toEqual([0, 1, 2, 3]);
    gates.slice(2).forEach((g) => g.resolve());
    const results = await settled;
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(peak).toBe(2);
    expect([limiter.running, limiter.queued]).toEqual([0, 0]);
  });

  it('refuses past maxQueue with E_BACKEND_UNAVAILABLE', async () => {
    const limiter = new Limiter(1, 1);
    const gate = deferred();
    const first = limiter.run(() => gate.promise);
    const second = limiter.run(async () => 'queued');
    await expect(limiter.run(async () => 'refused')).rejects.toMatchObject({
      code: StorageErrorCode.BACKEND_UNAVAILABLE,
    });
    gate.resolve();
    await first;
    await expect(second).resolves.toBe('queued');
  });
});

describe('Limiter between clients', () => {
  /** Queues `names` (client per task) behind one running task; returns the order tasks start in. */
  async function order(limiter: Limiter, names: string[]) {
    const gate = deferred();
    const started: string[] = [];
    const first = limiter.run(() => gate.promise, 'first');
    const runs = names.map((client, i) =>
      limiter.run(async () => void started.push(`${client}${i}`), client).catch((err: { code: string }) => err.code),
    );
    await tick();
    gate.resolve();
    await first;
    return { started, results: await Promise.all(runs) };
  }

  it('serves waiting clients in turn, so a flood delays another client by one task', async () => {
    const { started } = await order(new Limiter(1), ['a', 'a', 'a', 'a', 'b', 'a', 'c']);
    expect(started).toEqual(['a0', 'b4', 'c6', 'a1', 'a2', 'a3', 'a5']);
  });

  it('refuses a client past maxQueuePerClient (429) and still queues others', async () => {
    const { started, results } = await order(new Limiter(1, 100, 2), ['a', 'a', 'a', 'b']);
    expect(results[2]).toBe(StorageErrorCode.TOO_MANY_REQUESTS);
    expect(started).toEqual(['a0', 'b3', 'a1']);
  });

  it('makes room in a full queue by dropping the newest waiter of the longest queue', async () => {
    const { started, results } = await order(new Limiter(1, 3), ['a', 'a', 'a', 'b', 'c', 'b']);
    // b3 drops a2, c4 drops a1, and the second b (b already has one) finds none longer: refused.
    expect(results).toEqual([
      undefined,
      'E_BACKEND_UNAVAILABLE',
      'E_BACKEND_UNAVAILABLE',
      undefined,
      undefined,
      'E_BACKEND_UNAVAILABLE',
    ]);
    expect(started).toEqual(['a0', 'b3', 'c4']);
  });
});

describe('SingleFlight', () => {
  it('shares one run among callers of the same key, and forgets it once settled', async () => {
    const flights = new SingleFlight<number>();
    const gate = deferred<number>();
    let runs = 0;
    const task = () => {
      runs++;
      return gate.promise;
    };
    const a = flights.run('k', task);
    const b = flights.run('k', task);
    const other = flights.run('other', async () => 7);
    expect(flights.size).toBe(2);
    gate.resolve(42);
    expect(await Promise.all([a, b, other])).toEqual([42, 42, 7]);
    expect(runs).toBe(1);
    expect(flights.size).toBe(0);
    await flights.run('k', async () => (runs++, 1));
    expect(runs).toBe(2);
  });

  it('shares a failure too, and lets the next caller try again', async () => {
    const flights = new SingleFlight<number>();
    const failing = () => Promise.reject(new Error('nope'));
    await expect(Promise.all([flights.run('k', failing), flights.run('k', failing)])).rejects.toThrow('nope');
    await expect(flights.run('k', async () => 1)).resolves.toBe(1);
  });
});
