import { Module, type DynamicModule } from '@nestjs/common';
import { ConfigModule, ConfigService, registerAs } from '@nestjs/config';
import { ScheduleModule } from '@nestjs/schedule';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { StorageModule } from '../storage/module/storage.module';
import { buildAppConfig, type AppConfig } from './app.config';
import { dataSourceOptions, destroyTimedOutConnections } from './database';
import { SqliteCheckpointer } from './sqlite-checkpointer';

/**
 * What the service and the CLI share: configuration, the database and the storage module (whose
 * exports it passes on). Nothing here needs an HTTP server, a logger or terminus, so the CLI
 * runs with the package's dependencies and its required peers alone.
 */
@Module({})
export class AppCoreModule {
  /** `env` is read when the module is built (start-up), never at import time. */
  static forRoot(env: NodeJS.ProcessEnv = process.env): DynamicModule {
    const appConfig = registerAs('app', (): AppConfig => buildAppConfig(env));
    const storage = StorageModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService) => config.getOrThrow<AppConfig>('app').storage,
      routePrefix: env.ROUTE_PREFIX || 'storage',
      // The app's only global enhancer is HandlersInFlight (shutdown's clean-up wait for uploads):
      // downloads and previews need not reach it, and shutdown waits for raw uploads through
      // StorageService.uploadsSettled. It binds no middleware of its own to the module's routes.
      fastReads: 'ahead',
      fastUploads: 'ahead',
    });
    return {
      module: AppCoreModule,
      imports: [
        ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, load: [appConfig] }),
        // Imported once, here: the storage module's sweeper registers its job with SchedulerRegistry.
        ScheduleModule.forRoot(),
        TypeOrmModule.forRootAsync({
          useFactory: () => ({ ...dataSourceOptions(env), retryAttempts: 3, retryDelay: 1000 }),
          dataSourceFactory: async (options?: DataSourceOptions) =>
            destroyTimedOutConnections(await new DataSource(options!).initialize()),
        }),
        storage,
      ],
      providers: [SqliteCheckpointer],
      exports: [storage],
    };
  }
}
