import { Module, type DynamicModule } from '@nestjs/common';
import { ConfigModule, ConfigService, registerAs } from '@nestjs/config';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import { TerminusModule } from '@nestjs/terminus';
import { TypeOrmModule } from '@nestjs/typeorm';
import { StorageModule } from '../storage/module/storage.module';
import { buildAppConfig, metricsPort, type AppConfig } from './app.config';
import { dataSourceOptions, destroyTimedOutConnections } from './database';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { HealthController } from './health.controller';
import { loggerParams } from './logging';
import { MetricsController } from './metrics.controller';
import { MetricsServer } from './metrics-server';
import { RootController } from './root.controller';
import { LoggerModule } from 'nestjs-pino';
import { GracefulShutdown, HandlersInFlight } from './graceful-shutdown';

/** The standalone service: configuration, the database, and the storage module with its API. */
@Module({})
export class AppModule {
  /** `env` is read when the module is built (start-up), never at import time. */
  static forRoot(env: NodeJS.ProcessEnv = process.env): DynamicModule {
    const appConfig = registerAs('app', (): AppConfig => buildAppConfig(env));
    return {
      module: AppModule,
      // With METRICS_PORT, /metrics is served by MetricsServer on that port only.
      controllers: [HealthController, RootController, ...(metricsPort(env) === undefined ? [MetricsController] : [])],
      providers: [
        HandlersInFlight,
        { provide: APP_INTERCEPTOR, useExisting: HandlersInFlight },
        GracefulShutdown,
        MetricsServer,
      ],
      imports: [
        LoggerModule.forRoot(loggerParams(env)),
        ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, load: [appConfig] }),
        // Imported once, here: the storage module's sweeper registers its job with SchedulerRegistry.
        ScheduleModule.forRoot(),
        TerminusModule,
        TypeOrmModule.forRootAsync({
          useFactory: () => ({ ...dataSourceOptions(env), retryAttempts: 3, retryDelay: 1000 }),
          dataSourceFactory: async (options?: DataSourceOptions) =>
            destroyTimedOutConnections(await new DataSource(options!).initialize()),
        }),
        StorageModule.forRootAsync({
          inject: [ConfigService],
          useFactory: (config: ConfigService) => config.getOrThrow<AppConfig>('app').storage,
          routePrefix: env.ROUTE_PREFIX || 'storage',
        }),
      ],
    };
  }
}
