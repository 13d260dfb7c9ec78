import { FileEntity } from '../file.entity';
import { lifecycleEntities } from '../lifecycle/lifecycle.providers';
import { ThumbnailEntity } from '../preview/thumbnail.entity';

/** Every table of the storage module: hosts list these among their data source's `entities`. */
export const storageEntities = [FileEntity, ThumbnailEntity, ...lifecycleEntities];
