import { startRepeating } from './repeating-task';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('startRepeating', () => {
  it('runs again after each run, never two at once, through failures; stop waits for the run in progress', async () => {
    let runs = 0;
    let active = 0;
    let overlapped = false;
    const errors: unknown[] = [];
    const schedule = startRepeating(
      0.02,
      async () => {
        active += 1;
        overlapped ||= active > 1;
        runs += 1;
        await sleep(30);
        active -= 1;
        if (runs === 2) throw new Error('second run fails');
      },
      (err) => errors.push(err),
      0,
    );
    await sleep(300);
    await schedule.stop();
    expect(active).toBe(0);
    const stoppedAt = runs;
    expect(stoppedAt).toBeGreaterThanOrEqual(4);
    expect(overlapped).toBe(false);
    expect(errors).toEqual([new Error('second run fails')]);
    await sleep(100);
    expect(runs).toBe(stoppedAt);
  });
});
