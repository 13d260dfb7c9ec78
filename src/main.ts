import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { AppConfig } from './app/app.config';
import { AppModule } from './app/app.module';
import { setupStorageApp } from './app/setup-app';
import { startEventLoopProbe } from './app/event-loop-probe';
import { Logger as PinoLogger } from 'nestjs-pino';

async function bootstrap(): Promise<void> {
  startEventLoopProbe(process.env);
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(process.env), {
    bufferLogs: true,
  });
  app.useLogger(app.get(PinoLogger));
  const { port, routePrefix } = app.get(ConfigService).getOrThrow<AppConfig>('app');
  setupStorageApp(app);
  app.disable('x-powered-by');
  await app.listen(port);
  new Logger('Bootstrap').log(`storage-svc listening on http://localhost:${port}/${routePrefix}`);
}

bootstrap().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
