import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { bigintNumber } from './file.entity';

/**
 * One signed upload URL, as issued by `POST /storage/sign`: what it allows, for whom, until when,
 * and whether it was used. The URL is also HMAC-signed, so a grant cannot be forged or widened
 * without the secret; the row makes it single-use (a replayed URL is refused) and carries the
 * bounds to `POST /storage/sign/complete` for backends that cannot enforce them themselves.
 */
@Entity({ name: 'storage_upload_grants' })
@Index('IDX_storage_upload_grants_key', ['keyHash'])
@Index('IDX_storage_upload_grants_expires', ['expiresAt'])
export class UploadGrantEntity {
  /** Random, base64url; part of the signed URL. */
  @PrimaryColumn({ type: 'varchar', length: 32 })
  nonce!: string;

  /** `keyHash(storeFullName, name)` of the target key. */
  @Column({ type: 'varchar', length: 32 })
  keyHash!: string;

  @Column({ type: 'varchar', length: 255 })
  storeFullName!: string;

  /** The target key (the path the client asked for). */
  @Column({ type: 'varchar', length: 1024 })
  name!: string;

  /** Where a cloud backend's presigned URL puts the bytes until `complete`; null for local disk. */
  @Column({ type: 'varchar', length: 1024, nullable: true })
  stagingKey!: string | null;

  @Column({ type: 'varchar', length: 255 })
  contentType!: string;

  @Column({ type: 'bigint', transformer: bigintNumber })
  maxSize!: number;

  /** The user who asked for the URL: the record's `uploadUser`. */
  @Column({ type: 'varchar', length: 255, nullable: true })
  uploadUser!: string | null;

  /** Hex md5 the client gave: the record is content-addressed and the bytes checked; null: a plain upload. */
  @Column({ type: 'varchar', length: 32, nullable: true })
  md5!: string | null;

  /** The record's expiry in seconds from its upload (`expires`); null: permanent. */
  @Column({ type: 'int', nullable: true })
  fileExpires!: number | null;

  /** Epoch ms after which the URL is refused. */
  @Column({ type: 'bigint', transformer: bigintNumber })
  expiresAt!: number;

  /** Epoch ms of the upload that used it; null while unused. */
  @Column({ type: 'bigint', nullable: true, transformer: bigintNumber })
  usedAt!: number | null;

  @Column({ type: 'bigint', transformer: bigintNumber })
  createdAt!: number;
}
