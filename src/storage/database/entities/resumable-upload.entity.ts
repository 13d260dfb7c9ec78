import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintNumber } from './file.entity';

/**
 * One resumable (tus) upload, shared by every replica: where it goes, how far it got and who may
 * continue it. Its bytes so far are the chunks of `storage_resumable_chunks`, staged in the
 * instance's backend; once `uploadOffset` reaches `size` they are streamed through the normal
 * upload path, and `recordId` names the file record made of them. The row outlives the upload
 * until `expiresAt`, so that a client can read the record (`GET {prefix}/tus/{id}`).
 */
@Entity({ name: 'storage_resumable_uploads' })
@Index('IDX_storage_resumable_uploads_expires', ['expiresAt'])
export class ResumableUploadEntity {
  /** The tus upload id, random (32 hex characters): the last segment of its URL. */
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id!: string;

  @Column({ type: 'varchar', length: 255 })
  storeFullName!: string;

  /** The path the record will have (the client's `name`, normalized; not yet md5-named). */
  @Column({ type: 'varchar', length: 1024 })
  name!: string;

  /** The client's `Upload-Metadata`, decoded, as JSON: sent back on HEAD and used at completion. */
  @Column({ type: 'text' })
  metadata!: string;

  /** `Upload-Length`. */
  @Column({ type: 'bigint', transformer: bigintNumber })
  size!: number;

  /** Bytes received and stored so far: the sum of the chunks' sizes. */
  @Column({ type: 'bigint', transformer: bigintNumber })
  uploadOffset!: number;

  /** The token's user name: only that user may continue, read or end the upload. */
  @Column({ type: 'varchar', length: 255, nullable: true })
  owner!: string | null;

  @Column({ type: 'bigint', transformer: bigintNumber })
  createdAt!: number;

  /** Epoch ms after which the upload is gone (410 to the client), and removed by the reconciler. */
  @Column({ type: 'bigint', transformer: bigintNumber })
  expiresAt!: number;

  /** The file record made of the upload, once complete. */
  @Column({ type: 'int', nullable: true })
  recordId!: number | null;
}
