import { Column, Entity, Index, PrimaryGeneratedColumn, type ValueTransformer } from 'typeorm';

/** bigint columns come back as strings from mysql2; epoch milliseconds fit a JS number. */
export const bigintNumber: ValueTransformer = {
  to: (value?: number | null) => value,
  from: (value?: string | number | null) => (value === null || value === undefined ? value : Number(value)),
};

/**
 * One row per upload, in the spec's attachment format (see `toFileRecord` for the JSON form).
 * `name` is the logical path the client chose and `storeFullName` the instance; `objectKey` is
 * where the bytes physically are (internal, never part of the record's JSON form); `url` is
 * derived when the record is served, never stored.
 */
@Entity({ name: 'storage_files' })
@Index('IDX_storage_files_key', ['keyHash'])
@Index('IDX_storage_files_expires', ['expires'])
@Index('IDX_storage_files_object', ['objectHash'])
@Index('IDX_storage_files_store_id', ['storeFullName', 'id'])
@Index('IDX_storage_files_store_expires', ['storeFullName', 'expires'])
export class FileEntity {
  @PrimaryGeneratedColumn({ type: 'int' })
  id!: number;

  /** md5 of storeFullName + NUL + name: an index-friendly handle on a (long) key. */
  @Column({ type: 'varchar', length: 32 })
  keyHash!: string;

  /**
   * Where the bytes live in the backend: an immutable object this record alone points at
   * (`versionKey(name)`) for a plain upload, `{md5}{suffix}` (= `name`) for content shared by
   * md5. Records written before objects had versions point at `name` itself.
   */
  @Column({ type: 'varchar', length: 1024 })
  objectKey!: string;

  /** `keyHash(storeFullName, objectKey)`: the object's handle, as thumbnails and the ledger know it. */
  @Column({ type: 'varchar', length: 32 })
  objectHash!: string;

  @Column({ type: 'varchar', length: 32 })
  md5!: string;

  @Column({ type: 'varchar', length: 255 })
  uid!: string;

  @Column({ type: 'varchar', length: 1024 })
  name!: string;

  @Column({ type: 'bigint', transformer: bigintNumber })
  size!: number;

  @Column({ type: 'varchar', length: 255 })
  type!: string;

  /** Expiry time, epoch ms; null is permanent. */
  @Column({ type: 'bigint', nullable: true, transformer: bigintNumber })
  expires!: number | null;

  @Column({ type: 'varchar', length: 1024 })
  fileName!: string;

  /** The storage type element, e.g. `storages.LocalType`. */
  @Column({ type: 'varchar', length: 64 })
  fullName!: string;

  /** Epoch ms. */
  @Column({ type: 'bigint', transformer: bigintNumber })
  uploadTime!: number;

  @Column({ type: 'varchar', length: 255, nullable: true })
  uploadUser!: string | null;

  @Column({ type: 'varchar', length: 255, nullable: true })
  updateUserId!: string | null;

  /** The storage instance's element name, e.g. `storages.Default`. */
  @Column({ type: 'varchar', length: 255 })
  storeFullName!: string;

  /** The `expires` seconds given at upload, kept as the retention period. */
  @Column({ type: 'int', nullable: true })
  retentionPeriod!: number | null;
}
