import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { bigintNumber } from './file.entity';

/**
 * One stored piece of a resumable upload: the bytes from `start` (one PATCH, or what of it
 * arrived before the connection broke), staged as its own object under `.uploads/tus/{uploadId}/`.
 * Written only once the object is complete, in the same step that moves the upload's offset.
 */
@Entity({ name: 'storage_resumable_chunks' })
@Index('IDX_storage_resumable_chunks_upload', ['uploadId'])
export class ResumableChunkEntity {
  @PrimaryGeneratedColumn({ type: 'int' })
  id!: number;

  @Column({ type: 'varchar', length: 64 })
  uploadId!: string;

  @Column({ type: 'bigint', transformer: bigintNumber })
  start!: number;

  @Column({ type: 'bigint', transformer: bigintNumber })
  size!: number;

  @Column({ type: 'varchar', length: 1024 })
  objectKey!: string;

  @Column({ type: 'bigint', transformer: bigintNumber })
  createdAt!: number;
}
