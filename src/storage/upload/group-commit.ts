/** What one job of a batch came to: its result, or the error it alone failed with. */
export type Outcome<R> = { ok: R } | { error: unknown };

/**
 * Group commit: jobs submitted while a batch is running wait and form the next batch, which
 * `run` does at once (one transaction for all of them). A job submitted when nothing runs
 * starts a batch of its own at once: no timer, so a lone job waits for nobody. One batch runs
 * at a time; a batch takes at most `max` jobs and one job per key (a later job of the same
 * key waits for the next batch, keeping the order of jobs on one key).
 */
export class GroupCommit<J, R> {
  private pending: Array<{ job: J; resolve: (value: R) => void; reject: (err: unknown) => void }> = [];
  private running = false;

  constructor(
    private readonly run: (jobs: J[]) => Promise<Array<Outcome<R>>>,
    private readonly keyOf: (job: J) => string,
    private readonly max = 64,
    /**
     * `true`: a batch starts at the next turn of the event loop rather than at once, so that
     * jobs submitted in the same turn (by I/O that completed together) go together. For a
     * database whose work never waits (SQLite: synchronous calls), where no job would
     * otherwise ever find a batch running.
     */
    private readonly linger = false,
  ) {}

  submit(job: J): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ job, resolve, reject });
      if (this.running) return;
      if (!this.linger) {
        void this.drain();
        return;
      }
      this.running = true;
      setImmediate(() => void this.drain());
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.pending.length > 0) {
        const batch: typeof this.pending = [];
        const rest: typeof this.pending = [];
        const keys = new Set<string>();
        for (const entry of this.pending) {
          const key = this.keyOf(entry.job);
          if (batch.length < this.max && !keys.has(key)) {
            keys.add(key);
            batch.push(entry);
          } else {
            rest.push(entry);
          }
        }
        this.pending = rest;
        let outcomes: Array<Outcome<R>>;
        try {
          outcomes = await this.run(batch.map((entry) => entry.job));
        } catch (error) {
          outcomes = batch.map(() => ({ error }));
        }
        batch.forEach((entry, i) => {
          const outcome = outcomes[i];
          if ('ok' in outcome) entry.resolve(outcome.ok);
          else entry.reject(outcome.error);
        });
      }
    } finally {
      this.running = false;
    }
  }
}

/** A promise's outcome, never rejected. */
export function settle<R>(promise: Promise<R>): Promise<Outcome<R>> {
  return promise.then(
    (ok) => ({ ok }),
    (error: unknown) => ({ error }),
  );
}
