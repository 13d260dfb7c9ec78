import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { shieldRawUploads } from '../http/request-bodies';
import { STORAGE_HTTP, type StorageHttpParts } from './storage.constants';

/**
 * Installs `shieldRawUploads` once the application's routes exist (module init runs after Nest
 * registered its parsers and routes), so that a host's global body parsers never read the body
 * of a raw upload to this module's routes.
 */
@Injectable()
export class RawUploadShield implements OnModuleInit {
  private readonly logger = new Logger(RawUploadShield.name);

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(STORAGE_HTTP) private readonly http: StorageHttpParts,
  ) {}

  onModuleInit(): void {
    const adapter = this.adapterHost.httpAdapter;
    // No HTTP server (a standalone application context): no routes to protect.
    if (!adapter) return;
    if (!shieldRawUploads(adapter.getInstance(), this.http.prefix)) {
      this.logger.warn(
        `could not protect raw uploads under /${this.http.prefix} from global body parsers (not Express?): ` +
          'create the application with bodyParser: false if uploads of JSON or form files fail',
      );
    }
  }
}
