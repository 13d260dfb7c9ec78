import type { Provider } from '@nestjs/common';
import { ObjectPurger } from '../purge/object-purger';
import { UploadGrantEntity } from '../database/entities/upload-grant.entity';
import { Clock, systemClock } from '../ledger/clock';
import { ExpirySweeperJob } from '../jobs/expiry-sweeper.job';
import { LifecycleService } from '../jobs/lifecycle.service';
import { ObjectLedger } from '../ledger/object-ledger';
import { Reconciler } from '../jobs/reconciler';
import { RetiredObjectEntity } from '../database/entities/retired-object.entity';
import { StorageObjectEntity } from '../database/entities/storage-object.entity';
import { UploadPinEntity } from '../database/entities/upload-pin.entity';
import { UploadClaims } from '../upload/upload-claims';
import { UploadPipeline } from '../upload/upload-pipeline';

/** The lifecycle tables: hosts list these among their data source's entities. */
export const lifecycleEntities = [StorageObjectEntity, UploadPinEntity, RetiredObjectEntity, UploadGrantEntity];

export const lifecycleProviders: Provider[] = [
  { provide: Clock, useValue: systemClock },
  ObjectLedger,
  UploadClaims,
  UploadPipeline,
  ObjectPurger,
  Reconciler,
  LifecycleService,
  ExpirySweeperJob,
];
