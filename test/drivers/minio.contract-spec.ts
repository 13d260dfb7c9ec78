import * as http from 'node:http';
import { Client } from 'minio';
import { MinioDriver } from '../../src/storage/drivers/minio/minio.driver';
import { parseMinioOptions } from '../../src/storage/drivers/minio/minio.options';
import { startS3rver } from '../harness/peers/s3rver';
import { buildDriver, cleanUpOnError } from './contract-support';
import { describeDriverContract } from './driver-contract';

const BUCKET = 'contract-minio';

/** Options as an operator would write them, against s3rver at 127.0.0.1:`port`. */
function minioOptions(port: number, extra: Record<string, unknown> = {}) {
  return {
    type: 'storages.MinioType',
    endPoint: '127.0.0.1',
    port,
    useSSL: false,
    region: 'us-east-1',
    accessKey: 'S3RVER',
    secretKey: 'S3RVER',
    bucket: BUCKET,
    ...extra,
  };
}

/**
 * A client whose requests are recorded, to see multipart uploads opened and closed: s3rver does
 * not implement AbortMultipartUpload (405), so a leftover is an upload the driver never closed.
 */
function recordingClient(port: number): { client: Client; openUploads: () => Promise<string[]> } {
  let opened = 0;
  let closed = 0;
  const request = ((options: http.RequestOptions, callback?: (res: http.IncomingMessage) => void) => {
    const query = new URLSearchParams(String(options.path ?? '').split('?')[1] ?? '');
    if (options.method === 'POST' && query.has('uploads')) opened++;
    if ((options.method === 'POST' || options.method === 'DELETE') && query.has('uploadId')) closed++;
    return http.request(options, callback);
  }) as typeof http.request;
  const client = new Client({ ...minioOptions(port), transport: { request } });
  return { client, openUploads: async () => Array.from({ length: opened - closed }, (_, i) => `upload ${i}`) };
}

describeDriverContract('MinIO client (s3rver)', async () => {
  const peer = await startS3rver();
  const options = minioOptions(peer.port, { createBucket: true, partSize: 5 * 1024 * 1024 });
  const { client, openUploads } = recordingClient(peer.port);
  const driver = new MinioDriver(parseMinioOptions(options, "storages['storages.Minio']"), client);
  await cleanUpOnError(peer.close, () => driver.init());
  return {
    driver,
    secrets: [],
    leftovers: openUploads,
    unreachable: (port, timeoutMs) => buildDriver<MinioDriver>('storages.Minio', minioOptions(port, { timeoutMs })),
    teardown: () => peer.close(),
  };
});
