/** Expiry sweeping, orphan reconciliation and upload leases: `lifecycle` in the module options. */
export interface LifecycleOptions {
  /** Run the scheduled sweeper (default true). Needs `ScheduleModule.forRoot()` in the application. */
  sweepEnabled?: boolean;
  /** When the sweeper runs, as a cron expression (default every five minutes). */
  sweepCron?: string;
  /** Keys handled per batch (default 100); a run takes batches until none is full. */
  batchSize?: number;
  /** Also reconcile storage with the records on the sweeper's schedule (default true). */
  reconcileEnabled?: boolean;
  /** Seconds between two scheduled reconciliations (default 3600); each lists whole buckets. */
  reconcileIntervalSeconds?: number;
  /**
   * Seconds an object with no record, an abandoned temp file or an unused upload grant is left
   * alone before the reconciler removes it (default one day).
   */
  orphanGraceSeconds?: number;
  /** Seconds without a heartbeat after which an upload in flight counts as abandoned (default 300). */
  uploadLeaseSeconds?: number;
}

export type ResolvedLifecycleOptions = Required<LifecycleOptions>;

export const LIFECYCLE_DEFAULTS: ResolvedLifecycleOptions = {
  sweepEnabled: true,
  sweepCron: '*/5 * * * *',
  batchSize: 100,
  reconcileEnabled: true,
  reconcileIntervalSeconds: 3600,
  orphanGraceSeconds: 86400,
  uploadLeaseSeconds: 300,
};

export function resolveLifecycleOptions(options: LifecycleOptions | undefined): ResolvedLifecycleOptions {
  const defined = Object.fromEntries(Object.entries(options ?? {}).filter(([, v]) => v !== undefined));
  return { ...LIFECYCLE_DEFAULTS, ...defined };
}
