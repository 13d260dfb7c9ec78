import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The lifecycle tables, for MySQL/MariaDB and SQLite: `storage_objects` (one lockable row per
 * stored key), `storage_upload_pins` (uploads in flight) and `storage_upload_grants` (signed
 * upload URLs). Existing records get their object rows, so the first sweep after the upgrade
 * sees every stored key. A key is taken as content-addressed when every record of it names
 * its own md5 at the root, as md5 uploads do.
 */
export class CreateStorageLifecycle1764057800000 implements MigrationInterface {
  name = 'CreateStorageLifecycle1764057800000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const type = queryRunner.connection.options.type;
    const mysql = type === 'mysql' || type === 'mariadb';
    const [autoId, bool, tail] = mysql
      ? ['id int NOT NULL AUTO_INCREMENT', 'tinyint', ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin']
      : ['id integer PRIMARY KEY AUTOINCREMENT NOT NULL', 'boolean', ')'];
    const primary = mysql ? ',\n        PRIMARY KEY (id)' : '';
    await queryRunner.query(`
      CREATE TABLE storage_objects (
        ${autoId},
        keyHash varchar(32) NOT NULL,
        storeFullName varchar(255) NOT NULL,
        name varchar(1024) NOT NULL,
        dedup ${bool} NOT NULL DEFAULT 0,
        md5 varchar(32) NULL,
        size bigint NULL,
        generation int NOT NULL DEFAULT 0,
        createdAt bigint NOT NULL,
        updatedAt bigint NOT NULL${primary}
      ${tail}`);
    await queryRunner.query(`CREATE UNIQUE INDEX UQ_storage_objects_key ON storage_objects (keyHash)`);
    await queryRunner.query(`
      CREATE TABLE storage_upload_pins (
        ${autoId},
        keyHash varchar(32) NOT NULL,
        kind varchar(8) NOT NULL,
        generation int NOT NULL,
        createdAt bigint NOT NULL,
        heartbeatAt bigint NOT NULL${primary}
      ${tail}`);
    await queryRunner.query(`CREATE INDEX IDX_storage_upload_pins_key ON storage_upload_pins (keyHash)`);
    await queryRunner.query(`CREATE INDEX IDX_storage_upload_pins_heartbeat ON storage_upload_pins (heartbeatAt)`);
    await queryRunner.query(`
      CREATE TABLE storage_upload_grants (
        nonce varchar(32) NOT NULL PRIMARY KEY,
        keyHash varchar(32) NOT NULL,
        storeFullName varchar(255) NOT NULL,
        name varchar(1024) NOT NULL,
        stagingKey varchar(1024) NULL,
        contentType varchar(255) NOT NULL,
        maxSize bigint NOT NULL,
        uploadUser varchar(255) NULL,
        expiresAt bigint NOT NULL,
        usedAt bigint NULL,
        createdAt bigint NOT NULL
      ${tail}`);
    await queryRunner.query(`CREATE INDEX IDX_storage_upload_grants_key ON storage_upload_grants (keyHash)`);
    await queryRunner.query(`CREATE INDEX IDX_storage_upload_grants_expires ON storage_upload_grants (expiresAt)`);
    await queryRunner.query(`
      INSERT INTO storage_objects (keyHash, storeFullName, name, dedup, md5, size, generation, createdAt, updatedAt)
      SELECT keyHash, MAX(storeFullName), MAX(name),
        MIN(CASE WHEN name NOT LIKE '%/%' AND SUBSTR(name, 1, 32) = md5 THEN 1 ELSE 0 END),
        MAX(md5), MAX(size), 0, MIN(uploadTime), MAX(uploadTime)
      FROM storage_files GROUP BY keyHash`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE storage_upload_grants`);
    await queryRunner.query(`DROP TABLE storage_upload_pins`);
    await queryRunner.query(`DROP TABLE storage_objects`);
  }
}
