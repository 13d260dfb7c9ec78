/**
 * s3rver as the test harness starts it (test/harness/peers/s3rver.ts), in a process of its own
 * so that it does not share the bench's event loop with the load generator. Prints one line,
 * `{"endpoint":…,"port":…,"credentials":…}`, once it listens; runs until SIGTERM.
 *
 *   BUCKET=bench node -r ts-node/register/transpile-only bench/servers/s3-peer.ts
 */
import { startS3rver } from '../../test/harness/peers/s3rver';

async function main(): Promise<void> {
  const peer = await startS3rver([process.env.BUCKET ?? 'bench']);
  process.stdout.write(
    `${JSON.stringify({ endpoint: peer.endpoint, port: peer.port, credentials: peer.credentials })}\n`,
  );
  process.once('SIGTERM', () => {
    void peer.close().then(() => process.exit(0));
  });
}

void main();
