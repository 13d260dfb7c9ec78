import { Injectable } from '@nestjs/common';
import type { HealthIndicatorResult } from '@nestjs/terminus';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { StorageError } from '../errors/storage.error';
import { StorageRegistry } from '../registry/storage-registry';

/** The key probed on each instance: read-only, whether it exists or not does not matter. */
const PROBE_KEY = '.storage-health-probe';

/**
 * Health indicators for `@nestjs/terminus`, for a host to mount where it likes:
 *
 * ```ts
 * @Get('ready') @HealthCheck()
 * ready() { return this.health.check([() => this.storage.checkDatabase(), () => this.storage.checkStorages()]); }
 * ```
 *
 * Each check runs under a timeout and answers in terminus' shape: `database` up or down, and one
 * entry per storage instance (by element name) with a read-only probe (`exists` of a probe key:
 * a HEAD on a bucket, a `stat` on disk; never a write). A down entry names what failed, without
 * secrets. Only types come from terminus, so hosts without it can still load the library.
 */
@Injectable()
export class StorageHealthIndicator {
  constructor(
    private readonly registry: StorageRegistry,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  /** `SELECT 1` on the data source within `timeoutMs`. */
  async checkDatabase(key = 'database', timeoutMs = 3000): Promise<HealthIndicatorResult> {
    return probe(key, timeoutMs, () => this.dataSource.query('SELECT 1'));
  }

  /** Every configured instance (or those named) probed at once, each within `timeoutMs`. */
  async checkStorages(names: string[] = this.registry.names(), timeoutMs = 3000): Promise<HealthIndicatorResult> {
    const results = await Promise.all(
      names.map((name) => probe(name, timeoutMs, () => this.registry.get(name).driver.exists(PROBE_KEY))),
    );
    return Object.assign({}, ...results) as HealthIndicatorResult;
  }
}

async function probe(key: string, timeoutMs: number, run: () => Promise<unknown>): Promise<HealthIndicatorResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ProbeTimeout(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([run(), timeout]);
    return { [key]: { status: 'up' } };
  } catch (err) {
    return { [key]: { status: 'down', message: describe(err) } };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * What failed, safe on a public route: a storage error's message (written to be shown), else only
 * the error's code (a driver's message may carry hosts, users or SQL), or the timeout.
 */
function describe(err: unknown): string {
  if (err instanceof StorageError) return err.message;
  if (err instanceof ProbeTimeout) return err.message;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? `failed: ${code}` : 'failed';
}

class ProbeTimeout extends Error {}
