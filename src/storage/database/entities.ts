import { FileEntity } from './entities/file.entity';
import { lifecycleEntities } from '../module/lifecycle.providers';
import { ThumbnailEntity } from './entities/thumbnail.entity';

/** Every table of the storage module: hosts list these among their data source's `entities`. */
export const storageEntities = [FileEntity, ThumbnailEntity, ...lifecycleEntities];
