import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from './src/app/database';

/** For the TypeORM CLI: `npm run typeorm -- migration:run` (uses DB_URL / DATA_DIR like the app). */
export default new DataSource(dataSourceOptions(process.env));
