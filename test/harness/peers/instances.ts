import type { AzurePeer } from './azurite';
import type { S3Peer } from './s3rver';

/** A `storages.S3Type` instance on an s3rver peer, as an operator would configure it. */
export function s3Instance(peer: Pick<S3Peer, 'endpoint' | 'credentials'>, bucket: string, extra = {}) {
  return {
    type: 'storages.S3Type',
    region: 'us-east-1',
    endpoint: peer.endpoint,
    forcePathStyle: true,
    credentials: peer.credentials,
    bucket,
    ...extra,
  };
}

/** A `storages.AzureBlobType` instance on an Azurite peer; the container is made at start-up. */
export function azureInstance(peer: AzurePeer, container: string) {
  return { type: 'storages.AzureBlobType', connectionString: peer.connectionString, container, createBucket: true };
}
