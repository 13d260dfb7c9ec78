import { startOssServer, type OssServer } from '../../oss-server/oss-server';
import { startAzurite, type AzurePeer } from './azurite';
import { azureInstance, minioInstance, s3Instance } from './instances';
import { startS3rver, type S3Peer } from './s3rver';

/** The four cloud peers and one instance on each: `storages.S3`, `.Minio`, `.Oss`, `.Azure`. */
export interface CloudPeers {
  s3: S3Peer;
  azure: AzurePeer;
  oss: OssServer;
  /** The `storages` configuration naming one bucket per peer (`{name}-s3`, `-minio`, `-oss`, `-azure`). */
  storages: Record<string, Record<string, unknown>>;
  close(): Promise<void>;
}

/** Starts s3rver (S3 and MinIO buckets), Azurite and the OSS test server, with buckets named after `name`. */
export async function startCloudPeers(name: string, oss = { id: `LTAI-${name}-id`, secret: `${name}-secret` }) {
  const [s3, azure, ossServer] = await Promise.all([
    startS3rver([`${name}-s3`, `${name}-minio`]),
    startAzurite(),
    startOssServer({ accessKeyId: oss.id, accessKeySecret: oss.secret, buckets: [`${name}-oss`] }),
  ]);
  const peers: CloudPeers = {
    s3,
    azure,
    oss: ossServer,
    storages: {
      'storages.S3': s3Instance(s3, `${name}-s3`),
      'storages.Minio': minioInstance(s3, `${name}-minio`),
      'storages.Oss': {
        type: 'storages.OssType',
        endpoint: ossServer.endpoint,
        sldEnable: true,
        accessKeyId: oss.id,
        accessKeySecret: oss.secret,
        bucket: `${name}-oss`,
      },
      'storages.Azure': azureInstance(azure, `${name}-azure`),
    },
    close: async () => {
      await Promise.all([s3.close(), azure.close(), ossServer.close()]);
    },
  };
  return peers;
}
