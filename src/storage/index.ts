/**
 * The public API of the storage module, for host applications (`import { ... } from 'storage-svc'`).
 * Anything not exported here is internal and may change without notice.
 */

// The module, its options and the configuration loader.
export { StorageModule } from './module/storage.module';
export type { StorageModuleExtras } from './module/storage.module-definition';
export type { StorageModuleOptions } from './module/storage-module.options';
export { loadStorageOptions, type LoadStorageOptionsParams } from './module/load-storage-options';
export type { StorageOptions, RecordUrlBuilder } from './options/storage.options';
export type { LifecycleOptions } from './options/lifecycle.options';
export type { SigningOptions } from './options/signing.options';
export type { PreviewOptions, ThumbnailOptions } from './options/preview.options';
export type { RateLimitOptions, RouteRateLimit } from './options/rate-limit.options';
export type { StorageInstanceOptions, StorageType } from './drivers/driver-definitions';
export type { LocalInstanceOptions } from './drivers/local/local.options';
export type { S3InstanceOptions } from './drivers/s3/s3.options';
export type { MinioInstanceOptions } from './drivers/minio/minio.options';
export type { OssInstanceOptions } from './drivers/oss/oss.options';
export type { AzureBlobInstanceOptions } from './drivers/azure-blob/azure-blob.options';
export type { MemoryInstanceOptions } from './drivers/memory/memory.options';
export { ConfigError } from './config/storage-config';

// The service and what its methods take and return.
export { StorageService } from './storage.service';
export type { UploadByFileParams, UploadStreamParams, UploadedFileLike } from './upload/upload.types';
export type { OpenedFile } from './serving/opened-file';
export type { FileResponse } from './serving/file-response';
export type { ListParams } from './records/file-records';
export type { FileRecord } from './database/file-record';
export type { SignOptions } from './signing/upload-grants';
export { UNIQUE_UPLOADS_FOLDER } from './keys/keys';

// Sending a file from a host controller, and the module's errors.
export { sendStorageResponse } from './http/send-file';
export { StorageError, StorageErrorCode, STATUS_BY_CODE, isStorageError } from './errors/storage.error';
export { StorageExceptionFilter, type StorageErrorBody } from './errors/storage-exception.filter';
export { isDatabaseUnavailable } from './errors/database-errors';

// The host's data source: entities and migrations.
export { FileEntity } from './database/entities/file.entity';
export { ThumbnailEntity } from './database/entities/thumbnail.entity';
export { storageEntities, lifecycleEntities } from './database/entities';
export { storageMigrations } from './database/migrations';

// Background work, drivers by instance, authentication.
export { LifecycleService } from './jobs/lifecycle.service';
export type { LifecycleScope, SweepReport, SweptFile } from './jobs/lifecycle.service';
export type { ReconcileReport, MissingObject } from './jobs/reconciler';
export { Clock } from './ledger/clock';
export { StorageRegistry } from './registry/storage-registry';
export { StorageMetrics } from './metrics/storage-metrics';
export type { StorageInstance } from './registry/storage-registry';
export type {
  StorageDriver,
  ObjectStat,
  ByteRange,
  SignedUpload,
  SignedUrl,
  UploadedPart,
  MultipartLimits,
  SignPartOptions,
} from './drivers/storage-driver';
export type { InstanceInfo } from './registry/instance-info';
export { MemoryDriver } from './drivers/memory/memory.driver';
export { InjectStorageDriver } from './module/storage.providers';
export { storageDriverToken } from './module/storage.constants';
export { Public, PublicPreview, RequireScope, SignedRead } from './auth/public.decorator';
export type { StorageUser } from './auth/storage-user';
export { SCOPES } from './options/api-tokens.options';
export type { Scope, AccessLimits, ApiTokenConfig, ApiTokenOptions } from './options/api-tokens.options';
export { ApiTokenGuard } from './auth/api-token.guard';

// Readiness for @nestjs/terminus (an optional peer: only its types are used here).
export { StorageHealthIndicator } from './health/storage-health.indicator';
export { STORAGE_AUTH_GUARD, IS_PUBLIC_KEY, REQUIRED_SCOPE_KEY } from './auth/auth.constants';
