import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { DRIVER_TYPES } from '../../src/storage/drivers/driver-factory';
import type { LocalDriver } from '../../src/storage/drivers/local.driver';
import { describeDriverContract } from './driver-contract';

describeDriverContract(
  'local disk',
  async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'local-contract-'));
    const options = { type: 'storages.LocalType', root };
    DRIVER_TYPES['storages.LocalType'].validate(options, "storages['storages.Local']");
    const driver = (await DRIVER_TYPES['storages.LocalType'].create(options, {
      name: 'storages.Local',
      baseDir: root,
    })) as LocalDriver;
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
