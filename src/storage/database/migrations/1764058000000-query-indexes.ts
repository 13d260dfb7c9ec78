import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Indexes that let the hot queries read in the order they answer, so that their cost does not
 * grow with the table:
 * - `IDX_storage_files_store_id (storeFullName, id)`: a listing page (`storeFullName = ?`,
 *   `id > cursor`, `ORDER BY id`) is a seek and a short range scan. Without it SQLite's planner
 *   took the `(storeFullName, name)` index and sorted every record of the instance per page.
 * - `IDX_storage_files_store_expires (storeFullName, expires)`: the sweeper's claim query for one
 *   instance (`storeFullName = ?`, `expires <= now`, `ORDER BY expires, id`) reads it in order.
 *   Over every instance it reads `IDX_storage_files_expires`. Both databases end a secondary
 *   index with the primary key (InnoDB's with it, SQLite's with the rowid), so `expires, id` is
 *   these indexes' own order: the claim stops after a batch, never sorting the backlog.
 *
 * `test/query-plans` checks the plans on the database the suite runs against.
 */
export class QueryIndexes1764058000000 implements MigrationInterface {
  name = 'QueryIndexes1764058000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE INDEX IDX_storage_files_store_id ON storage_files (storeFullName, id)');
    await queryRunner.query('CREATE INDEX IDX_storage_files_store_expires ON storage_files (storeFullName, expires)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const mysql = queryRunner.connection.options.type === 'mysql';
    for (const index of ['IDX_storage_files_store_expires', 'IDX_storage_files_store_id']) {
      await queryRunner.query(mysql ? `DROP INDEX ${index} ON storage_files` : `DROP INDEX ${index}`);
    }
  }
}
