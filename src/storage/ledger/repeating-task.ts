/**
 * Runs `task` every `seconds` in the background (first after `firstDelayMs`), never two runs at
 * once; a run's failure goes to `onError` and the next run comes as usual. `stop` ends the schedule
 * and waits for a run in progress (call it on shutdown, before the database closes).
 */
export function startRepeating(
  seconds: number,
  task: () => Promise<unknown>,
  onError: (err: unknown) => void,
  firstDelayMs = seconds * 1000,
): { stop(): Promise<void> } {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;
  const tick = () => {
    running = task()
      .catch(onError)
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, seconds * 1000).unref();
      });
  };
  timer = setTimeout(tick, firstDelayMs).unref();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
