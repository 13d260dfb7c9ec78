import { DRIVER_TYPES } from '../../src/storage/drivers/driver-factory';
import type { AzureBlobDriver } from '../../src/storage/drivers/azure-blob.driver';
import { AZURITE_KEY, azuriteConnectionString, startAzurite } from '../harness/peers/azurite';
import { cleanUpOnError } from './contract-support';
import { describeDriverContract } from './driver-contract';

const CONTAINER = 'contract-azure';
const azure = DRIVER_TYPES['storages.AzureBlobType'];

async function createAzure(options: Record<string, unknown>): Promise<AzureBlobDriver> {
  const config = { type: 'storages.AzureBlobType', container: CONTAINER, ...options };
  azure.validate(config, "storages['storages.Azure']");
  return (await azure.create(config, { name: 'storages.Azure', baseDir: process.cwd() })) as AzureBlobDriver;
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
