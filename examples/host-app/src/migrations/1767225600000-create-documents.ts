import { Table, type MigrationInterface, type QueryRunner } from 'typeorm';

/** The application's own table; the storage module's tables come from `storageMigrations`. */
export class CreateDocuments1767225600000 implements MigrationInterface {
  name = 'CreateDocuments1767225600000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.createTable(
      new Table({
        name: 'documents',
        columns: [
          { name: 'id', type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
          { name: 'title', type: 'varchar', length: '200' },
          { name: 'owner', type: 'varchar', length: '255' },
          { name: 'attachment', type: 'text' },
        ],
      }),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('documents');
  }
}
