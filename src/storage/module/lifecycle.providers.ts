import type { Provider } from '@nestjs/common';
import { ObjectPurger } from '../purge/object-purger';
import { Clock, systemClock } from '../ledger/clock';
import { ExpirySweeperJob } from '../jobs/expiry-sweeper.job';
import { StagingSweepJob } from '../jobs/staging-sweep.job';
import { LifecycleService } from '../jobs/lifecycle.service';
import { KeyLocks } from '../ledger/key-locks';
import { ObjectLedger } from '../ledger/object-ledger';
import { Reconciler } from '../jobs/reconciler';
import { UploadClaims } from '../upload/upload-claims';
import { UploadPipeline } from '../upload/upload-pipeline';
import { UploadSlots } from '../upload/upload-slots';

export const lifecycleProviders: Provider[] = [
  { provide: Clock, useValue: systemClock },
  KeyLocks,
  ObjectLedger,
  UploadClaims,
  UploadPipeline,
  UploadSlots,
  ObjectPurger,
  Reconciler,
  LifecycleService,
  ExpirySweeperJob,
  StagingSweepJob,
];
