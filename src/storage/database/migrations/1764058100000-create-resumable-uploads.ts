import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Resumable (tus) uploads, shared by every replica: `storage_resumable_uploads` (one row per
 * upload: target, metadata, length, offset, owner, expiry, record), `storage_resumable_chunks`
 * (the staged pieces received so far) and `storage_resumable_locks` (a lease per upload, so
 * that two replicas never write one upload at once).
 */
export class CreateResumableUploads1764058100000 implements MigrationInterface {
  name = 'CreateResumableUploads1764058100000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const type = queryRunner.connection.options.type;
    const mysql = type === 'mysql' || type === 'mariadb';
    const [autoId, tail] = mysql
      ? ['id int NOT NULL AUTO_INCREMENT', ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin']
      : ['id integer PRIMARY KEY AUTOINCREMENT NOT NULL', ')'];
    const primary = mysql ? ',\n        PRIMARY KEY (id)' : '';
    await queryRunner.query(`
      CREATE TABLE storage_resumable_uploads (
        id varchar(64) NOT NULL PRIMARY KEY,
        storeFullName varchar(255) NOT NULL,
        name varchar(1024) NOT NULL,
        metadata text NOT NULL,
        size bigint NOT NULL,
        uploadOffset bigint NOT NULL,
        owner varchar(255) NULL,
        createdAt bigint NOT NULL,
        expiresAt bigint NOT NULL,
        recordId int NULL
      ${tail}`);
    await queryRunner.query(
      'CREATE INDEX IDX_storage_resumable_uploads_expires ON storage_resumable_uploads (expiresAt)',
    );
    await queryRunner.query(`
      CREATE TABLE storage_resumable_chunks (
        ${autoId},
        uploadId varchar(64) NOT NULL,
        start bigint NOT NULL,
        size bigint NOT NULL,
        objectKey varchar(1024) NOT NULL,
        createdAt bigint NOT NULL${primary}
      ${tail}`);
    await queryRunner.query('CREATE INDEX IDX_storage_resumable_chunks_upload ON storage_resumable_chunks (uploadId)');
    await queryRunner.query(`
      CREATE TABLE storage_resumable_locks (
        id varchar(64) NOT NULL PRIMARY KEY,
        owner varchar(200) NOT NULL,
        expiresAt bigint NOT NULL,
        releaseRequested int NOT NULL DEFAULT 0
      ${tail}`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE storage_resumable_locks');
    await queryRunner.query('DROP TABLE storage_resumable_chunks');
    await queryRunner.query('DROP TABLE storage_resumable_uploads');
  }
}
