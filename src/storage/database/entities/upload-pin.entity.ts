import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { bigintNumber } from './file.entity';

/**
 * An upload in flight: a reference to its key that keeps the object from being removed while
 * bytes are still arriving (or being verified), before the file record exists. Taken and
 * released under the key's lock; refreshed by a heartbeat; one whose heartbeat is older than
 * the upload lease is abandoned and reaped by the reconciler.
 */
@Entity({ name: 'storage_upload_pins' })
@Index('IDX_storage_upload_pins_key', ['keyHash'])
@Index('IDX_storage_upload_pins_heartbeat', ['heartbeatAt'])
@Index('IDX_storage_upload_pins_object', ['objectHash'])
export class UploadPinEntity {
  @PrimaryGeneratedColumn({ type: 'int' })
  id!: number;

  @Column({ type: 'varchar', length: 32 })
  keyHash!: string;

  /** `write`: the upload writes the object; `verify`: the content is stored, the upload only hashes. */
  @Column({ type: 'varchar', length: 8 })
  kind!: 'write' | 'verify';

  /** The object the upload writes (a new version key) or verifies (`{md5}{suffix}`). */
  @Column({ type: 'varchar', length: 1024 })
  objectKey!: string;

  @Column({ type: 'varchar', length: 32 })
  objectHash!: string;

  /** The process that holds the pin (`processIdentity`): a pin of a dead process is freed at once. */
  @Column({ type: 'varchar', length: 160 })
  owner!: string;

  /** The object generation this upload claimed. */
  @Column({ type: 'int' })
  generation!: number;

  @Column({ type: 'bigint', transformer: bigintNumber })
  createdAt!: number;

  @Column({ type: 'bigint', transformer: bigintNumber })
  heartbeatAt!: number;
}
