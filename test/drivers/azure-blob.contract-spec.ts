import type { AzureBlobDriver } from '../../src/storage/drivers/azure-blob/azure-blob.driver';
import { AZURITE_KEY, azuriteConnectionString, startAzurite } from '../harness/peers/azurite';
import { buildDriver, cleanUpOnError } from './contract-support';
import { describeDriverContract } from './driver-contract';

const CONTAINER = 'contract-azure';

function createAzure(options: Record<string, unknown>): Promise<AzureBlobDriver> {
  return buildDriver('storages.Azure', { type: 'storages.AzureBlobType', container: CONTAINER, ...options });
}

describeDriverContract('Azure Blob (Azurite)', async () => {
  const peer = await startAzurite();
  const driver = await cleanUpOnError(peer.close, () =>
    createAzure({ connectionString: peer.connectionString, createBucket: true }),
  );
  return {
    driver,
    secrets: [AZURITE_KEY],
    unreachable: (port, timeoutMs) => createAzure({ connectionString: azuriteConnectionString(port), timeoutMs }),
    teardown: () => peer.close(),
  };
});
