import { Logger } from '@nestjs/common';
import { createApp } from './app';
import { configFromEnv } from './config';

async function main(): Promise<void> {
  const config = configFromEnv();
  const app = await createApp(config);
  await app.listen(config.port, config.host);
  new Logger('HostApp').log(`listening on ${await app.getUrl()}`);
}

main().catch((err: unknown) => {
  new Logger('HostApp').error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exitCode = 1;
});
