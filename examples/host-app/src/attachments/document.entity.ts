import type { FileRecord } from 'storage-svc';
import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** A document of this application: a title and one attached file. */
@Entity({ name: 'documents' })
export class DocumentEntity {
  @PrimaryGeneratedColumn({ type: 'int' })
  id!: number;

  @Column({ type: 'varchar', length: 200 })
  title!: string;

  @Column({ type: 'varchar', length: 255 })
  owner!: string;

  /** The storage record exactly as `StorageService.uploadByFile` returned it. */
  @Column({ type: 'simple-json' })
  attachment!: FileRecord;
}
