import { GroupCommit, type Outcome } from './group-commit';

interface Job {
  key: string;
  value: number;
}

/** A batch runner that records its batches and finishes each one when the test says so. */
function recorder(outcome: (job: Job) => Outcome<number> = (job) => ({ ok: job.value * 10 })) {
  const batches: number[][] = [];
  const finish: Array<() => void> = [];
  const run = (jobs: Job[]) =>
    new Promise<Array<Outcome<number>>>((resolve) => {
      batches.push(jobs.map((j) => j.value));
      finish.push(() => resolve(jobs.map(outcome)));
    });
  return { batches, finish, run };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('GroupCommit', () => {
  it('runs a job submitted while nothing runs at once, alone', async () => {
    const r = recorder();
    const group = new GroupCommit<Job, number>(r.run, (j) => j.key);
    const result = group.submit({ key: 'a', value: 1 });
    expect(r.batches).toEqual([[1]]);
    r.finish[0]();
    await expect(result).resolves.toBe(10);
  });

  it('gathers the jobs submitted during a batch into the next one, one job per key, at most max', async () => {
    const r = recorder();
    const group = new GroupCommit<Job, number>(r.run, (j) => j.key, 3);
    const results = [group.submit({ key: 'a', value: 1 })];
    for (const [key, value] of [
      ['b', 2],
      ['c', 3],
      ['b', 4],
      ['d', 5],
      ['e', 6],
    ] as const) {
      results.push(group.submit({ key, value }));
    }
    expect(r.batches).toEqual([[1]]);
    r.finish[0]();
    await tick();
    // b's second job waits for a later batch; the batch is full at three.
    expect(r.batches).toEqual([[1], [2, 3, 5]]);
    r.finish[1]();
    await tick();
    expect(r.batches).toEqual([[1], [2, 3, 5], [4, 6]]);
    r.finish[2]();
    await expect(Promise.all(results)).resolves.toEqual([10, 20, 30, 40, 50, 60]);
  });

  it("gives each job its own outcome, and every job of a batch whose run throws that batch's error", async () => {
    const failing = new GroupCommit<Job, number>(
      async (jobs) => jobs.map((j) => (j.value === 2 ? { error: new Error('two') } : { ok: j.value })),
      (j) => j.key,
    );
    const first = failing.submit({ key: 'a', value: 1 });
    const rest = [failing.submit({ key: 'b', value: 2 }), failing.submit({ key: 'c', value: 3 })];
    await expect(first).resolves.toBe(1);
    await expect(rest[0]).rejects.toThrow('two');
    await expect(rest[1]).resolves.toBe(3);

    const broken = new GroupCommit<Job, number>(
      () => Promise.reject(new Error('database gone')),
      (j) => j.key,
    );
    await expect(broken.submit({ key: 'a', value: 1 })).rejects.toThrow('database gone');
    // The queue keeps working after a failed batch.
    const again = new GroupCommit<Job, number>(
      async (jobs) => jobs.map((j) => ({ ok: j.value })),
      (j) => j.key,
    );
    await expect(again.submit({ key: 'a', value: 7 })).resolves.toBe(7);
    await expect(broken.submit({ key: 'a', value: 2 })).rejects.toThrow('database gone');
  });
});

describe('GroupCommit with linger', () => {
  it('starts a batch at the next turn of the event loop, with every job submitted in this one', async () => {
    const batches: number[][] = [];
    const group = new GroupCommit<Job, number>(
      async (jobs) => {
        batches.push(jobs.map((j) => j.value));
        return jobs.map((j) => ({ ok: j.value }));
      },
      (j) => j.key,
      64,
      true,
    );
    const results = [1, 2, 3].map((value) => group.submit({ key: String(value), value }));
    expect(batches).toEqual([]);
    await expect(Promise.all(results)).resolves.toEqual([1, 2, 3]);
    expect(batches).toEqual([[1, 2, 3]]);
    await expect(group.submit({ key: 'a', value: 4 })).resolves.toBe(4);
    expect(batches).toEqual([[1, 2, 3], [4]]);
  });
});
