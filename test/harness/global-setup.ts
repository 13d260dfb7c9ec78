import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/app/database';

/**
 * With DB_URL set (the MySQL suite), starts from an empty schema and runs the migrations once,
 * before the workers start: test files then share one migrated database. Fails loudly when the
 * database cannot be reached; the suite is never skipped.
 */
export default async function globalSetup(): Promise<void> {
  if (!process.env.DB_URL) return;
  const options = { ...dataSourceOptions(process.env), migrationsRun: false };
  const source = new DataSource(options);
  try {
    await source.initialize();
  } catch (err) {
    throw new Error(`cannot reach the MySQL database at DB_URL (${(err as Error).message})`);
  }
  const tables: Array<{ name: string }> = await source.query(
    "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE() AND (table_name LIKE 'storage\\_%')",
  );
  await source.query('SET FOREIGN_KEY_CHECKS = 0');
  for (const { name } of tables) await source.query(`DROP TABLE \`${name}\``);
  await source.query('SET FOREIGN_KEY_CHECKS = 1');
  await source.runMigrations();
  await source.destroy();
}
