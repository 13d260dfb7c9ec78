import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { LocalDriver } from '../../src/storage/drivers/local/local.driver';
import { buildDriver } from './contract-support';
import { describeDriverContract } from './driver-contract';

describeDriverContract(
  'local disk',
  async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'local-contract-'));
    const driver = await buildDriver<LocalDriver>('storages.Local', { type: 'storages.LocalType', root }, root);
    return {
      driver,
      secrets: [],
      async leftovers() {
        const temps: string[] = [];
        for await (const temp of driver.listTemp()) temps.push(temp.key);
        return temps;
      },
      teardown: () => rm(root, { recursive: true, force: true }),
    };
    // No native signed uploads (the service signs URLs to its own route) and no network to lose.
  },
  { signedUploads: false, network: false },
);
