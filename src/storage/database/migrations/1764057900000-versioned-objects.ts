import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Immutable object versions. Each record and upload pin names the object it points at
 * (`objectKey`, `objectHash`); pins also name the process that holds them; objects that lost
 * their last reference wait in `storage_retired_objects` for removal. Existing data is adopted
 * without copying a byte: every record's object is the key it was stored under (`objectKey` =
 * `name`, `objectHash` = `keyHash`), its first version; thumbnails keep their rows, since they
 * are keyed by the same hash.
 */
export class VersionedObjects1764057900000 implements MigrationInterface {
  name = 'VersionedObjects1764057900000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const type = queryRunner.connection.options.type;
    const mysql = type === 'mysql' || type === 'mariadb';
    const [autoId, bool, tail] = mysql
      ? ['id int NOT NULL AUTO_INCREMENT', 'tinyint', ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin']
      : ['id integer PRIMARY KEY AUTOINCREMENT NOT NULL', 'boolean', ')'];
    const primary = mysql ? ',\n        PRIMARY KEY (id)' : '';
    const add = (table: string, column: string) => queryRunner.query(`ALTER TABLE ${table} ADD COLUMN ${column}`);
    await add('storage_files', "objectKey varchar(1024) NOT NULL DEFAULT ''");
    await add('storage_files', "objectHash varchar(32) NOT NULL DEFAULT ''");
    await queryRunner.query('UPDATE storage_files SET objectKey = name, objectHash = keyHash');
    await queryRunner.query('CREATE INDEX IDX_storage_files_object ON storage_files (objectHash)');
    await add('storage_upload_pins', "objectKey varchar(1024) NOT NULL DEFAULT ''");
    await add('storage_upload_pins', "objectHash varchar(32) NOT NULL DEFAULT ''");
    await add('storage_upload_pins', "owner varchar(160) NOT NULL DEFAULT ''");
    await queryRunner.query(`
      UPDATE storage_upload_pins SET objectHash = keyHash, objectKey = COALESCE(
        (SELECT o.name FROM storage_objects o WHERE o.keyHash = storage_upload_pins.keyHash), '')`);
    await queryRunner.query('CREATE INDEX IDX_storage_upload_pins_object ON storage_upload_pins (objectHash)');
    await queryRunner.query(`
      CREATE TABLE storage_retired_objects (
        ${autoId},
        storeFullName varchar(255) NOT NULL,
        objectKey varchar(1024) NOT NULL,
        objectHash varchar(32) NOT NULL,
        shared ${bool} NOT NULL DEFAULT 0,
        removeAfter bigint NOT NULL,
        attempts int NOT NULL DEFAULT 0,
        lastError varchar(255) NULL,
        createdAt bigint NOT NULL${primary}
      ${tail}`);
    await queryRunner.query('CREATE INDEX IDX_storage_retired_objects_due ON storage_retired_objects (removeAfter)');
    await queryRunner.query('CREATE INDEX IDX_storage_retired_objects_object ON storage_retired_objects (objectHash)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE storage_retired_objects');
    for (const [table, index] of [
      ['storage_upload_pins', 'IDX_storage_upload_pins_object'],
      ['storage_files', 'IDX_storage_files_object'],
    ]) {
      const mysql = queryRunner.connection.options.type === 'mysql';
      await queryRunner.query(mysql ? `DROP INDEX ${index} ON ${table}` : `DROP INDEX ${index}`);
    }
    await queryRunner.query('ALTER TABLE storage_upload_pins DROP COLUMN owner');
    for (const table of ['storage_upload_pins', 'storage_files']) {
      await queryRunner.query(`ALTER TABLE ${table} DROP COLUMN objectHash`);
      await queryRunner.query(`ALTER TABLE ${table} DROP COLUMN objectKey`);
    }
  }
}
