import { Module, type DynamicModule } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import { AppCoreModule } from './app-core.module';
import { metricsPort } from './app.config';
import { GracefulShutdown, HandlersInFlight } from './graceful-shutdown';
import { HealthController } from './health.controller';
import { loggerParams } from './logging';
import { MetricsController } from './metrics.controller';
import { MetricsServer } from './metrics-server';
import { RootController } from './root.controller';

/** The standalone service: the core (configuration, database, storage) with its HTTP extras. */
@Module({})
export class AppModule {
  /** `env` is read when the module is built (start-up), never at import time. */
  static forRoot(env: NodeJS.ProcessEnv = process.env): DynamicModule {
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
      imports: [LoggerModule.forRoot(loggerParams(env)), AppCoreModule.forRoot(env), TerminusModule],
    };
  }
}
