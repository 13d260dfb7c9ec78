import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What a signed upload's record will carry besides its bounds: the md5 the client gave (stored
 * content-addressed and checked) and the file's expiry in seconds. Kept on the grant so that a
 * direct upload completed by the service itself (on first access, or by the sweep) is recorded
 * as the client asked, not only when the client completes it.
 */
export class UploadGrantRecordFields1764058300000 implements MigrationInterface {
  name = 'UploadGrantRecordFields1764058300000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE storage_upload_grants ADD COLUMN md5 varchar(32) NULL');
    await queryRunner.query('ALTER TABLE storage_upload_grants ADD COLUMN fileExpires int NULL');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE storage_upload_grants DROP COLUMN fileExpires');
    await queryRunner.query('ALTER TABLE storage_upload_grants DROP COLUMN md5');
  }
}
