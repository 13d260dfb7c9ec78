import type { Provider } from '@nestjs/common';
import { UploadGrantEntity } from '../signing/upload-grant.entity';
import { Clock, systemClock } from './clock';
import { ObjectStore } from './object-store';
import { StorageObjectEntity } from './storage-object.entity';
import { UploadPinEntity } from './upload-pin.entity';
import { UploadPipeline } from './upload-pipeline';

/** The lifecycle tables: hosts list these among their data source's entities. */
export const lifecycleEntities = [StorageObjectEntity, UploadPinEntity, UploadGrantEntity];

export const lifecycleProviders: Provider[] = [{ provide: Clock, useValue: systemClock }, ObjectStore, UploadPipeline];
