import { FileEntity } from './entities/file.entity';
import { RetiredObjectEntity } from './entities/retired-object.entity';
import { StorageObjectEntity } from './entities/storage-object.entity';
import { ThumbnailEntity } from './entities/thumbnail.entity';
import { UploadGrantEntity } from './entities/upload-grant.entity';
import { UploadPinEntity } from './entities/upload-pin.entity';
import { ResumableChunkEntity } from './entities/resumable-chunk.entity';
import { ResumableLockEntity } from './entities/resumable-lock.entity';
import { ResumableUploadEntity } from './entities/resumable-upload.entity';

/** The lifecycle tables (keys, uploads in flight, the removal queue, signed-upload grants, resumable uploads). */
export const lifecycleEntities = [
  StorageObjectEntity,
  UploadPinEntity,
  RetiredObjectEntity,
  UploadGrantEntity,
  ResumableUploadEntity,
  ResumableChunkEntity,
  ResumableLockEntity,
];

/** Every table of the storage module: hosts list these among their data source's `entities`. */
export const storageEntities = [FileEntity, ThumbnailEntity, ...lifecycleEntities];
