import type { ConfigService } from '@nestjs/config';
import type { HttpAdapterHost } from '@nestjs/core';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { StorageService } from '../storage/storage.service';
import { GracefulShutdown, HandlersInFlight } from './graceful-shutdown';

/**
 * Raw uploads are answered ahead of Nest's route pipeline, so `HandlersInFlight` never counts
 * them: once the deadline cuts their connections, shutdown must still wait for their clean-up
 * (`StorageService.uploadsSettled`) before Nest closes the database and the drivers under it.
 * A clean-up slower than the test can cause for real stands in here as a late promise.
 */
describe('GracefulShutdown', () => {
  let server: Server;

  beforeEach(async () => {
    // A request that never ends keeps `server.close` from finishing before the deadline.
    server = createServer(() => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const pending = request({ port, method: 'PUT', headers: { 'Content-Length': '10' } });
    pending.on('error', () => undefined);
    pending.write('half');
    await new Promise((resolve) => setTimeout(resolve, 50));
  });

  afterEach(() => server.close());

  it('waits past the deadline for uploads still cleaning up, not only for handlers', async () => {
    const events: string[] = [];
    const storage = {
      uploadsSettled: (ms: number) =>
        new Promise<boolean>((resolve) =>
          setTimeout(() => {
            events.push(`uploads settled (grace ${ms} ms)`);
            resolve(true);
          }, 300),
        ),
    } as unknown as StorageService;
    const config = { getOrThrow: () => ({ shutdownTimeoutSeconds: 0.1 }) } as unknown as ConfigService;
    const adapterHost = { httpAdapter: { getHttpServer: () => server } } as unknown as HttpAdapterHost;
    const shutdown = new GracefulShutdown(adapterHost, config, new HandlersInFlight(), storage);

    await shutdown.beforeApplicationShutdown();
    events.push('shutdown hook done');

    expect(events).toEqual(['uploads settled (grace 5000 ms)', 'shutdown hook done']);
  });
});
