import type { Provider } from '@nestjs/common';
import { ObjectPurger } from '../object-purger';
import { UploadGrantEntity } from '../signing/upload-grant.entity';
import { Clock, systemClock } from './clock';
import { ExpirySweeperJob } from './expiry-sweeper.job';
import { LifecycleService } from './lifecycle.service';
import { ObjectStore } from './object-store';
import { Reconciler } from './reconciler';
import { RetiredObjectEntity } from './retired-object.entity';
import { StorageObjectEntity } from './storage-object.entity';
import { UploadPinEntity } from './upload-pin.entity';
import { UploadClaims } from './upload-claims';
import { UploadPipeline } from './upload-pipeline';

/** The lifecycle tables: hosts list these among their data source's entities. */
export const lifecycleEntities = [StorageObjectEntity, UploadPinEntity, RetiredObjectEntity, UploadGrantEntity];

export const lifecycleProviders: Provider[] = [
  { provide: Clock, useValue: systemClock },
  ObjectStore,
  UploadClaims,
  UploadPipeline,
  ObjectPurger,
  Reconciler,
  LifecycleService,
  ExpirySweeperJob,
];
