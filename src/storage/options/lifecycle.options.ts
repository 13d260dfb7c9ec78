import { ConfigError } from '../config/storage-config';

/** Expiry sweeping, orphan reconciliation and upload leases: `lifecycle` in the module options. */
export interface LifecycleOptions {
  /** Run the scheduled sweeper (default true); it needs no `ScheduleModule` in the host. */
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
  /**
   * Seconds a version replaced by a newer upload of the same path is kept for readers that may
   * still be streaming it (default 900), before it is removed.
   */
  versionGraceSeconds?: number;
  /**
   * Seconds between two runs of the removal queue in the background: superseded versions past
   * their grace, retries of failed removals (default 10; 0 turns it off, the sweeper still runs it).
   */
  purgeIntervalSeconds?: number;
  /**
   * Seconds after a cloud signed upload URL expires during which `sign/complete` still accepts
   * what was uploaded through it (default 300). Past it, the staged object (`.uploads/…`) of an
   * unused URL is removed, and so is whatever was sent again through a used one; this runs every
   * `purgeIntervalSeconds` and with each sweep.
   */
  stagingGraceSeconds?: number;
  /**
   * Seconds a resumable (tus) upload may take from its creation (default one day): past it the
   * client gets 410 and the reconciler removes what was staged. A finished upload's state (the
   * record for `GET {prefix}/tus/{id}`) is kept as long.
   */
  resumableExpirySeconds?: number;
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
  versionGraceSeconds: 900,
  purgeIntervalSeconds: 10,
  stagingGraceSeconds: 300,
  resumableExpirySeconds: 86400,
};

/** Defaults filled in and values checked; a bad one is a `ConfigError` naming `lifecycle.<field>`. */
export function resolveLifecycleOptions(options: LifecycleOptions | undefined): ResolvedLifecycleOptions {
  const defined = Object.fromEntries(Object.entries(options ?? {}).filter(([, v]) => v !== undefined));
  const resolved: ResolvedLifecycleOptions = { ...LIFECYCLE_DEFAULTS, ...defined };
  for (const field of ['sweepEnabled', 'reconcileEnabled'] as const) {
    if (typeof resolved[field] !== 'boolean') throw new ConfigError(`lifecycle.${field}`, 'must be true or false');
  }
  if (typeof resolved.sweepCron !== 'string' || resolved.sweepCron.trim() === '') {
    throw new ConfigError('lifecycle.sweepCron', 'must be a cron expression');
  }
  const counts = [
    'batchSize',
    'reconcileIntervalSeconds',
    'orphanGraceSeconds',
    'uploadLeaseSeconds',
    'versionGraceSeconds',
    'purgeIntervalSeconds',
    'stagingGraceSeconds',
    'resumableExpirySeconds',
  ] as const;
  for (const field of counts) {
    const value = resolved[field];
    const least = ['orphanGraceSeconds', 'versionGraceSeconds', 'purgeIntervalSeconds', 'stagingGraceSeconds'].includes(
      field,
    )
      ? 0
      : 1;
    if (!Number.isSafeInteger(value) || value < least) {
      throw new ConfigError(`lifecycle.${field}`, `must be a whole number of at least ${least}`);
    }
  }
  return resolved;
}
