/** The public API of the storage module, for host applications. */
export { StorageModule } from './storage.module';
export { StorageService } from './storage.service';
export type {
  UploadByFileParams,
  UploadStreamParams,
  UploadedFileLike,
  OpenedFile,
  ListParams,
} from './storage.service';
export type { StorageModuleOptions } from './storage.options';
export type { StorageModuleExtras } from './storage.module-definition';
export type { FileRecord } from './file-record';
export { FileEntity } from './file.entity';
export { ThumbnailEntity } from './preview/thumbnail.entity';
export { storageEntities } from './database/entities';
export { storageMigrations } from './database/migrations';
export { lifecycleEntities } from './lifecycle/lifecycle.providers';
export { LifecycleService } from './lifecycle/lifecycle.service';
export type { LifecycleScope, SweepReport, SweptFile } from './lifecycle/lifecycle.service';
export type { ReconcileReport, MissingObject } from './lifecycle/reconciler';
export type { LifecycleOptions } from './lifecycle/lifecycle.options';
export type { SigningOptions } from './signing/signing.options';
export type { SignOptions } from './signing/upload-grants';
export { Clock } from './lifecycle/clock';
export { StorageError, StorageErrorCode } from './errors/storage.error';
export { StorageExceptionFilter } from './errors/storage-exception.filter';
export { Public } from './auth/public.decorator';
export { ApiTokenGuard } from './auth/api-token.guard';
export { StorageRegistry } from './storage-registry';
export type { StorageDriver, ObjectStat, ByteRange, SignedUpload } from './drivers/storage-driver';
export { STORAGE_AUTH_GUARD, IS_PUBLIC_KEY } from './storage.constants';
export { InjectStorageDriver } from './storage.providers';
