import { CreateStorageFiles1764057600000 } from './1764057600000-create-storage-files';
import { CreateStorageThumbnails1764057700000 } from './1764057700000-create-storage-thumbnails';
import { CreateStorageLifecycle1764057800000 } from './1764057800000-create-storage-lifecycle';
import { VersionedObjects1764057900000 } from './1764057900000-versioned-objects';
import { QueryIndexes1764058000000 } from './1764058000000-query-indexes';
import { CreateResumableUploads1764058100000 } from './1764058100000-create-resumable-uploads';
import { UploadGrantRecordFields1764058300000 } from './1764058300000-upload-grant-record-fields';

/** Every schema migration, oldest first. Hosts add these to their data source's `migrations`. */
export const storageMigrations = [
  CreateStorageFiles1764057600000,
  CreateStorageThumbnails1764057700000,
  CreateStorageLifecycle1764057800000,
  VersionedObjects1764057900000,
  QueryIndexes1764058000000,
  CreateResumableUploads1764058100000,
  UploadGrantRecordFields1764058300000,
];
