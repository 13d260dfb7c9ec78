import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The file record table, for MySQL/MariaDB and SQLite. */
export class CreateStorageFiles1764057600000 implements MigrationInterface {
  name = 'CreateStorageFiles1764057600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    if (queryRunner.connection.options.type === 'mysql' || queryRunner.connection.options.type === 'mariadb') {
      await queryRunner.query(`
        CREATE TABLE storage_files (
          id int NOT NULL AUTO_INCREMENT,
          keyHash varchar(32) NOT NULL,
          md5 varchar(32) NOT NULL,
          uid varchar(255) NOT NULL,
          name varchar(1024) NOT NULL,
          size bigint NOT NULL,
          type varchar(255) NOT NULL,
          expires bigint NULL,
          fileName varchar(1024) NOT NULL,
          fullName varchar(64) NOT NULL,
          uploadTime bigint NOT NULL,
          uploadUser varchar(255) NULL,
          updateUserId varchar(255) NULL,
          storeFullName varchar(255) NOT NULL,
          retentionPeriod int NULL,
          PRIMARY KEY (id),
          INDEX IDX_storage_files_key (keyHash),
          INDEX IDX_storage_files_expires (expires),
          INDEX IDX_storage_files_store_name (storeFullName(191), name(191))
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
      return;
    }
    await queryRunner.query(`
      CREATE TABLE storage_files (
        id integer PRIMARY KEY AUTOINCREMENT NOT NULL,
        keyHash varchar(32) NOT NULL,
        md5 varchar(32) NOT NULL,
        uid varchar(255) NOT NULL,
        name varchar(1024) NOT NULL,
        size bigint NOT NULL,
        type varchar(255) NOT NULL,
        expires bigint NULL,
        fileName varchar(1024) NOT NULL,
        fullName varchar(64) NOT NULL,
        uploadTime bigint NOT NULL,
        uploadUser varchar(255) NULL,
        updateUserId varchar(255) NULL,
        storeFullName varchar(255) NOT NULL,
        retentionPeriod integer NULL
      )`);
    await queryRunner.query(`CREATE INDEX IDX_storage_files_key ON storage_files (keyHash)`);
    await queryRunner.query(`CREATE INDEX IDX_storage_files_expires ON storage_files (expires)`);
    await queryRunner.query(`CREATE INDEX IDX_storage_files_store_name ON storage_files (storeFullName, name)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE storage_files`);
  }
}
