import * as fs from 'node:fs';
import * as path from 'node:path';
import { storageEntities, storageMigrations } from 'storage-svc';
import type { DataSourceOptions } from 'typeorm';
import { DocumentEntity } from './attachments/document.entity';
import type { HostConfig } from './config';
import { CreateDocuments1767225600000 } from './migrations/1767225600000-create-documents';

/**
 * One data source for the whole application: its own tables and the storage module's, each
 * created by its migrations when the application starts (never `synchronize`).
 */
export function dataSourceOptions(config: HostConfig): DataSourceOptions {
  fs.mkdirSync(config.dataDir, { recursive: true });
  return {
    type: 'better-sqlite3',
    database: path.join(config.dataDir, 'host-app.sqlite'),
    entities: [DocumentEntity, ...storageEntities],
    migrations: [...storageMigrations, CreateDocuments1767225600000],
    migrationsRun: true,
    synchronize: false,
  };
}
