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

/** A `storages.MinioType` instance on an s3rver peer (path style, the peer's one account). */
export function minioInstance(peer: Pick<S3Peer, 'port' | 'credentials'>, bucket: string) {
  return {
    type: 'storages.MinioType',
    endPoint: '127.0.0.1',
    port: peer.port,
    useSSL: false,
    region: 'us-east-1',
    accessKey: peer.credentials.accessKeyId,
    secretKey: peer.credentials.secretAccessKey,
    bucket,
  };
}

/** A `storages.AzureBlobType` instance on an Azurite peer; the container is made at start-up. */
export function azureInstance(peer: AzurePeer, container: string) {
  return { type: 'storages.AzureBlobType', connectionString: peer.connectionString, container, createBucket: true };
}

/** A `storages.OssType` instance on the test OSS server (second-level domain off, its account). */
export function ossInstance(
  peer: { endpoint: string },
  bucket: string,
  account: { accessKeyId: string; accessKeySecret: string },
) {
  return { type: 'storages.OssType', endpoint: peer.endpoint, sldEnable: true, ...account, bucket };
}
