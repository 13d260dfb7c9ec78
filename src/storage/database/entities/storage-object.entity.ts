import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { bigintNumber } from './file.entity';

/**
 * One row per key that holds (or is being given) an object in a backend: the unit of locking.
 * Every change to the records of a key, and every removal of its object, happens in a
 * transaction that holds this row's lock (see `KeyLocks`). The row exists while the object
 * exists or is being written; it goes in the same step as the object.
 *
 * References are not counted in a column: they are the key's unexpired records plus its upload
 * pins, counted under the lock, so a count can never drift from the rows it counts.
 */
@Entity({ name: 'storage_objects' })
@Index('UQ_storage_objects_key', ['keyHash'], { unique: true })
export class StorageObjectEntity {
  @PrimaryGeneratedColumn({ type: 'int' })
  id!: number;

  /** `keyHash(storeFullName, name)`, as on the file records. */
  @Column({ type: 'varchar', length: 32 })
  keyHash!: string;

  @Column({ type: 'varchar', length: 255 })
  storeFullName!: string;

  @Column({ type: 'varchar', length: 1024 })
  name!: string;

  /** Content-addressed (`{md5}{suffix}`, shared by many records) rather than a plain path. */
  @Column({ type: 'boolean', default: false })
  dedup!: boolean;

  /** md5 of the committed content; null until a first write commits. */
  @Column({ type: 'varchar', length: 32, nullable: true })
  md5!: string | null;

  @Column({ type: 'bigint', nullable: true, transformer: bigintNumber })
  size!: number | null;

  /** Bumped by every write claim: a writer commits only if the generation is still its own. */
  @Column({ type: 'int', default: 0 })
  generation!: number;

  @Column({ type: 'bigint', transformer: bigintNumber })
  createdAt!: number;

  @Column({ type: 'bigint', transformer: bigintNumber })
  updatedAt!: number;
}
