import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Indexes that let the hot queries read in the order they answer, so that their cost does not
 * grow with the table:
 * - `IDX_storage_files_store_id (storeFullName, id)`: a listing page (`storeFullName = ?`,
 *   `id > cursor`, `ORDER BY id`) is a seek and a short range scan. Without it SQLite's planner
 *   took the `(storeFullName, name)` index and sorted every record of the instance per page.
 *
 * The sweeper's claim query reads `IDX_storage_files_expires`, which both databases extend with
 * the primary key (InnoDB secondary indexes end with it, SQLite's with the rowid): `ORDER BY
 * expires, id` is that index's own order, so it needs no new index. `test/query-plans` checks
 * both plans on the database the suite runs against.
 */
export class QueryIndexes1764058000000 implements MigrationInterface {
  name = 'QueryIndexes1764058000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE INDEX IDX_storage_files_store_id ON storage_files (storeFullName, id)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    const mysql = queryRunner.connection.options.type === 'mysql';
    const index = 'IDX_storage_files_store_id';
    await queryRunner.query(mysql ? `DROP INDEX ${index} ON storage_files` : `DROP INDEX ${index}`);
  }
}
