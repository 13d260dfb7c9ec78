import type { MemoryDriver } from '../../src/storage/drivers/memory/memory.driver';
import { buildDriver } from './contract-support';
import { describeDriverContract } from './driver-contract';

describeDriverContract(
  'in-memory',
  async () => ({
    driver: await buildDriver<MemoryDriver>('storages.Memory', { type: 'storages.MemoryType' }),
    secrets: [],
    teardown: async () => undefined,
  }),
  // Like local disk: no native signed uploads (the service signs its own URLs) and no network to lose.
  { signedUploads: false, network: false },
);
