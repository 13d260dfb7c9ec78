import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Stored thumbnails (derivatives of stored files), for MySQL/MariaDB and SQLite. */
export class CreateStorageThumbnails1764057700000 implements MigrationInterface {
  name = 'CreateStorageThumbnails1764057700000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const mysql = queryRunner.connection.options.type === 'mysql' || queryRunner.connection.options.type === 'mariadb';
    const columns = `
        storeFullName varchar(255) NOT NULL,
        sourceKeyHash varchar(32) NOT NULL,
        sourceMd5 varchar(32) NOT NULL,
        params varchar(64) NOT NULL,
        derivedKey varchar(255) NOT NULL,
        md5 varchar(32) NOT NULL,
        size int NOT NULL,
        type varchar(64) NOT NULL,
        created bigint NOT NULL`;
    if (mysql) {
      await queryRunner.query(`
        CREATE TABLE storage_thumbnails (
          id int NOT NULL AUTO_INCREMENT,${columns},
          PRIMARY KEY (id),
          UNIQUE INDEX UQ_storage_thumbnails_source (sourceKeyHash, sourceMd5, params)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
      return;
    }
    await queryRunner.query(`
      CREATE TABLE storage_thumbnails (
        id integer PRIMARY KEY AUTOINCREMENT NOT NULL,${columns}
      )`);
    await queryRunner.query(
      `CREATE UNIQUE INDEX UQ_storage_thumbnails_source ON storage_thumbnails (sourceKeyHash, sourceMd5, params)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE storage_thumbnails`);
  }
}
