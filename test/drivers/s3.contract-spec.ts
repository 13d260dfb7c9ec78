import type { S3Client } from '@aws-sdk/client-s3';
import type { S3Driver } from '../../src/storage/drivers/s3/s3.driver';
import { startS3rver } from '../harness/peers/s3rver';
import { buildDriver, cleanUpOnError } from './contract-support';
import { describeDriverContract } from './driver-contract';

const BUCKET = 'contract-s3';

function createS3(options: Record<string, unknown>): Promise<S3Driver> {
  return buildDriver('storages.S3', { type: 'storages.S3Type', region: 'us-east-1', forcePathStyle: true, ...options });
}

/**
 * Multipart uploads the client opened and neither completed nor aborted. s3rver does not
 * implement AbortMultipartUpload (it answers 405), so the ledger counts the driver's attempt.
 */
function multipartLedger(client: S3Client): () => Promise<string[]> {
  const open = new Set<string>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { UploadId?: string };
      if (
        context.commandName === 'AbortMultipartUploadCommand' ||
        context.commandName === 'CompleteMultipartUploadCommand'
      ) {
        if (input.UploadId) open.delete(input.UploadId);
      }
      const result = await next(args);
      const output = result.output as { UploadId?: string };
      if (context.commandName === 'CreateMultipartUploadCommand' && output.UploadId) open.add(output.UploadId);
      return result;
    },
    { step: 'initialize', name: 'multipartLedger' },
  );
  return async () => [...open];
}

describeDriverContract('S3 (s3rver)', async () => {
  const peer = await startS3rver();
  const driver = await cleanUpOnError(peer.close, () =>
    createS3({ bucket: BUCKET, endpoint: peer.endpoint, credentials: peer.credentials, createBucket: true }),
  );
  return {
    driver,
    secrets: [], // s3rver's only account uses the same string as key id and secret
    leftovers: multipartLedger(driver.client),
    unreachable: (port, timeoutMs) =>
      createS3({ bucket: BUCKET, endpoint: `http://127.0.0.1:${port}`, credentials: peer.credentials, timeoutMs }),
    teardown: () => peer.close(),
  };
});

describe('S3 signed upload', () => {
  it('binds the key, the Content-Type and the size into the POST policy (s3rver itself does not check it)', async () => {
    const driver = await createS3({
      bucket: BUCKET,
      endpoint: 'http://127.0.0.1:9',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI' },
    });
    const signed = await driver.signUpload('a/b c.txt', { contentType: 'image/png', expiresIn: 60, maxSize: 1000 });
    expect(signed.method).toBe('POST');
    expect(new URL(signed.url).pathname).toBe(`/${BUCKET}`);
    const policy = JSON.parse(Buffer.from(signed.fields!.Policy, 'base64').toString()) as {
      expiration: string;
      conditions: unknown[];
    };
    expect(policy.conditions).toEqual(
      expect.arrayContaining([['content-length-range', 0, 1000], { key: 'a/b c.txt' }, { bucket: BUCKET }]),
    );
    expect(JSON.stringify(policy.conditions)).toContain('image/png');
    expect(Date.parse(policy.expiration) - Date.now()).toBeLessThanOrEqual(60_000);
    expect(JSON.stringify(signed)).not.toContain('wJalrXUtnFEMI');
    await driver.close();
  });
});
