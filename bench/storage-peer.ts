/**
 * `--storage s3|minio|azure`: the default instance is a cloud instance on its test peer
 * (s3rver for S3 and MinIO, Azurite for Azure, as the test harness starts them); `local` (the
 * default) needs none.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { startAzurite } from '../test/harness/peers/azurite';
import { azureInstance, minioInstance, s3Instance } from '../test/harness/peers/instances';
import type { BenchOptions } from './options';
import { ROOT, stopChild, track } from './processes';

export interface StoragePeer {
  /** The `storages.Default` instance on the peer. */
  instance: object;
  close(): Promise<void>;
}

const BUCKET = 'bench';

async function startS3Peer(): Promise<{
  endpoint: string;
  port: number;
  credentials: { accessKeyId: string; secretAccessKey: string };
  close(): Promise<void>;
}> {
  const script = path.join(__dirname, 'servers/s3-peer.ts');
  const child = track(
    spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', script], {
      cwd: ROOT,
      env: { ...process.env, BUCKET },
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`s3rver exited with ${code}`)));
  });
  return { ...JSON.parse(line), close: () => stopChild(child) };
}

export async function startStoragePeer(storage: BenchOptions['storage']): Promise<StoragePeer | undefined> {
  if (storage === 'local') return undefined;
  if (storage === 'azure') {
    const peer = await startAzurite();
    return { instance: azureInstance(peer, BUCKET), close: () => peer.close() };
  }
  const peer = await startS3Peer();
  const instance = storage === 's3' ? s3Instance(peer, BUCKET) : minioInstance(peer, BUCKET);
  return { instance, close: () => peer.close() };
}
