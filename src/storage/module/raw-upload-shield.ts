import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { shieldRawUploads } from '../http/request-bodies';
import { installStorageCors } from '../http/storage-cors';
import { StorageFastReads } from '../http/fast-reads';
import { StorageFastUploads } from '../http/fast-uploads';
import { InjectStorageOptions, type ResolvedStorageOptions } from '../options/resolved-options';
import { STORAGE_HTTP, type StorageHttpParts } from './storage.constants';

/**
 * Installs `shieldRawUploads` once the application's routes exist (module init runs after Nest
 * registered its parsers and routes), so that a host's global body parsers never read the body
 * of a raw upload to this module's routes. Also warns when the host's server has a total request
 * timeout (`server.requestTimeout`, 300 s by default in Node): the module cannot lift it for its
 * upload routes alone (Node applies it to every request of the server), so it would cut long
 * uploads however fast they progress; the module times uploads by progress itself. With the
 * `cors` option, installs the module's CORS handler the same way (`installStorageCors`), and
 * places the fast paths of downloads and previews (`StorageFastReads`) and of raw uploads
 * (`StorageFastUploads`) before their routes.
 */
@Injectable()
export class RawUploadShield implements OnModuleInit {
  private readonly logger = new Logger(RawUploadShield.name);

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(STORAGE_HTTP) private readonly http: StorageHttpParts,
    @InjectStorageOptions() private readonly options: ResolvedStorageOptions,
    private readonly fastReads: StorageFastReads,
    private readonly fastUploads: StorageFastUploads,
  ) {}

  onModuleInit(): void {
    const adapter = this.adapterHost.httpAdapter;
    // No HTTP server (a standalone application context): no routes to protect.
    if (!adapter) return;
    const timeout = (adapter.getHttpServer?.() as { requestTimeout?: unknown } | undefined)?.requestTimeout;
    if (typeof timeout === 'number' && timeout > 0) {
      this.logger.warn(
        `the HTTP server ends every request after ${Math.round(timeout / 1000)} s (server.requestTimeout), ` +
          `uploads to /${this.http.prefix} included: set app.getHttpServer().requestTimeout = 0 before listen ` +
          '(uploads are ended when they stall, by uploadIdleTimeoutSeconds)',
      );
    }
    const { cors } = this.options;
    if (cors && !installStorageCors(adapter.getInstance(), this.http.prefix, cors)) {
      this.logger.warn(`could not install CORS for /${this.http.prefix} (not Express?): configure it on the host app`);
    }
    this.fastReads.install(adapter.getInstance(), this.http.prefix);
    this.fastUploads.install(adapter.getInstance(), this.http.prefix);
    if (!shieldRawUploads(adapter.getInstance(), this.http.prefix)) {
      this.logger.warn(
        `could not protect raw uploads under /${this.http.prefix} from global body parsers (not Express?): ` +
          'create the application with bodyParser: false if uploads of JSON or form files fail',
      );
    }
  }
}
