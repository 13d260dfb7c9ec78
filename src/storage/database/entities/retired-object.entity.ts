import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { bigintNumber } from './file.entity';

/**
 * An object that has left every record and pin, queued for removal from its backend. The row is
 * written in the same transaction that removes the object's last reference, so no crash can
 * lose track of it; `ObjectPurger` removes the object (and its derivatives) once `removeAfter`
 * has passed, then the row, retrying a failed removal until it succeeds.
 *
 * A superseded version waits a grace period (a reader may still be streaming it); a deleted or
 * expired file's object is due at once. A `shared` (md5-named) object can gain a reference again:
 * an upload of the same content revives it by removing this row under the key's lock.
 */
@Entity({ name: 'storage_retired_objects' })
@Index('IDX_storage_retired_objects_due', ['removeAfter'])
@Index('IDX_storage_retired_objects_object', ['objectHash'])
export class RetiredObjectEntity {
  @PrimaryGeneratedColumn({ type: 'int' })
  id!: number;

  @Column({ type: 'varchar', length: 255 })
  storeFullName!: string;

  @Column({ type: 'varchar', length: 1024 })
  objectKey!: string;

  @Column({ type: 'varchar', length: 32 })
  objectHash!: string;

  /** Content-addressed: other uploads may refer to it again, so it is removed under its key's lock. */
  @Column({ type: 'boolean', default: false })
  shared!: boolean;

  /** Epoch ms after which the object may go. */
  @Column({ type: 'bigint', transformer: bigintNumber })
  removeAfter!: number;

  /** Failed removals so far; each failure pushes `removeAfter` back. */
  @Column({ type: 'int', default: 0 })
  attempts!: number;

  @Column({ type: 'varchar', length: 255, nullable: true })
  lastError!: string | null;

  @Column({ type: 'bigint', transformer: bigintNumber })
  createdAt!: number;
}
