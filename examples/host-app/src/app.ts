import 'reflect-metadata';
import type { INestApplication, LoggerService, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import type { HostConfig } from './config';

/**
 * The application, created and initialised (migrations run, storage instances started) but not
 * listening yet. A configuration error (an S3 instance without its SDK, say) rejects here.
 */
export async function createApp(
  config: HostConfig,
  logger: LoggerService | LogLevel[] | false = ['error', 'warn', 'log'],
): Promise<INestApplication> {
  const app = await NestFactory.create(AppModule.forRoot(config), { logger, abortOnError: false });
  app.enableShutdownHooks();
  await app.init();
  return app;
}
