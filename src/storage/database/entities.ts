import { FileEntity } from './entities/file.entity';
import { RetiredObjectEntity } from './entities/retired-object.entity';
import { StorageObjectEntity } from './entities/storage-object.entity';
import { ThumbnailEntity } from './entities/thumbnail.entity';
import { UploadGrantEntity } from './entities/upload-grant.entity';
import { UploadPinEntity } from './entities/upload-pin.entity';

/** The lifecycle tables (keys, uploads in flight, the removal queue, signed-upload grants). */
export const lifecycleEntities = [StorageObjectEntity, UploadPinEntity, RetiredObjectEntity, UploadGrantEntity];

/** Every table of the storage module: hosts list these among their data source's `entities`. */
export const storageEntities = [FileEntity, ThumbnailEntity, ...lifecycleEntities];
