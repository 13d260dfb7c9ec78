import type { Counter, Histogram, Registry } from 'prom-client';
import { counter, histogram } from './metric-factories';

/**
 * The metrics of one background job (`sweeper`, `reconciler`): its runs by outcome, how long
 * each took, and what it did, counted by action (`records_expired`, `orphans_removed`, ...).
 */
export class JobMetrics {
  readonly runs: Counter<'outcome'>;
  readonly duration: Histogram;
  readonly items: Counter<'action'>;

  constructor(registry: Registry, job: 'sweeper' | 'reconciler') {
    this.runs = counter(registry, `storage_${job}_runs_total`, `Runs of the ${job}, by outcome (ok, failed)`, [
      'outcome',
    ]);
    this.duration = histogram(
      registry,
      `storage_${job}_run_duration_seconds`,
      `How long each run of the ${job} took, failed ones included`,
      [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600],
    );
    this.items = counter(registry, `storage_${job}_items_total`, `What the ${job} did, by action`, ['action']);
  }

  /**
   * Runs `run`, observing its duration and outcome, and on success adds what `counts` reads off
   * its report (action → number) to the items. A failure is rethrown unchanged.
   */
  async observe<R>(run: () => Promise<R>, counts: (report: R) => Record<string, number>): Promise<R> {
    const end = this.duration.startTimer();
    try {
      const report = await run();
      this.runs.inc({ outcome: 'ok' });
      for (const [action, n] of Object.entries(counts(report))) this.items.inc({ action }, n);
      return report;
    } catch (err) {
      this.runs.inc({ outcome: 'failed' });
      throw err;
    } finally {
      end();
    }
  }
}
