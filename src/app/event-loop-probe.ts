import { monitorEventLoopDelay } from 'node:perf_hooks';

/** The message `npm run bench` sends over its IPC channel to the service, and the answer's type. */
export const EVENT_LOOP_MESSAGE = 'bench-event-loop';

/**
 * For `npm run bench` only (`BENCH_EVENT_LOOP=1`, started with an IPC channel): samples the
 * event loop's delay and answers each `bench-event-loop` message with
 * `{type: 'bench-event-loop', maxMs, p99Ms}` since the previous one, then starts over, so the
 * bench reads the largest delay of each scenario. (Signals are taken: Nest's shutdown hooks
 * listen to SIGUSR2.) Off otherwise: nothing sampled, no listener.
 */
export function startEventLoopProbe(env: NodeJS.ProcessEnv): void {
  if (env.BENCH_EVENT_LOOP !== '1' || !process.send) return;
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  process.channel?.unref();
  process.on('message', (message) => {
    if (message !== EVENT_LOOP_MESSAGE) return;
    const report = { type: EVENT_LOOP_MESSAGE, maxMs: histogram.max / 1e6, p99Ms: histogram.percentile(99) / 1e6 };
    histogram.reset();
    process.send?.(report);
  });
}
