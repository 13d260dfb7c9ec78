import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DataSourceOptions } from 'typeorm';
import { storageEntities } from '../storage/database/entities';
import { storageMigrations } from '../storage/database/migrations';

/**
 * TypeORM options from the environment: MySQL/MariaDB when `DB_URL` is set, otherwise an
 * embedded SQLite file under `DATA_DIR`. Migrations, never `synchronize`.
 */
export function dataSourceOptions(env: NodeJS.ProcessEnv = process.env): DataSourceOptions {
  const common = {
    entities: storageEntities,
    migrations: storageMigrations,
    migrationsRun: true,
    synchronize: false,
    logging: env.DB_LOGGING === 'true',
  };
  if (env.DB_URL) {
    const url = new URL(env.DB_URL);
    if (url.protocol !== 'mysql:' && url.protocol !== 'mariadb:') {
      throw new Error(`DB_URL must be a mysql:// URL (got ${url.protocol}//...)`);
    }
    return {
      ...common,
      type: 'mysql',
      url: env.DB_URL.replace(/^mariadb:/, 'mysql:'),
      charset: 'utf8mb4_bin',
      supportBigNumbers: true,
      bigNumberStrings: true,
      migrationsTableName: 'storage_migrations',
    };
  }
  const dataDir = path.resolve(env.DATA_DIR || './data');
  fs.mkdirSync(dataDir, { recursive: true });
  return {
    ...common,
    type: 'better-sqlite3',
    database: path.join(dataDir, 'storage.sqlite'),
    migrationsTableName: 'storage_migrations',
    prepareDatabase: (db: { pragma(sql: string): unknown }) => {
      db.pragma('journal_mode = WAL');
      db.pragma('busy_timeout = 5000');
    },
  };
}
