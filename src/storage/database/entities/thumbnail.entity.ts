import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { bigintNumber } from './file.entity';

/**
 * One stored thumbnail: the derived image of one source (its key and its content) at one set of
 * parameters, kept in the source's own backend under `derivedKey`. A repeat request finds the
 * row and reads the object; rows and objects go when the source goes.
 */
@Entity({ name: 'storage_thumbnails' })
@Index('UQ_storage_thumbnails_source', ['sourceKeyHash', 'sourceMd5', 'params'], { unique: true })
export class ThumbnailEntity {
  @PrimaryGeneratedColumn({ type: 'int' })
  id!: number;

  /** The instance both the source and the derivative live in. */
  @Column({ type: 'varchar', length: 255 })
  storeFullName!: string;

  /** The source object's `objectHash` (instance + object key), as in `storage_files`: one version. */
  @Column({ type: 'varchar', length: 32 })
  sourceKeyHash!: string;

  /** The source's content md5: new bytes under the same key make new thumbnails. */
  @Column({ type: 'varchar', length: 32 })
  sourceMd5!: string;

  /** `{w}x{h}-{fit}-{format}`. */
  @Column({ type: 'varchar', length: 64 })
  params!: string;

  /** Where the derived image is stored: under the reserved `.thumbnails/` prefix. */
  @Column({ type: 'varchar', length: 255 })
  derivedKey!: string;

  /** md5 of the derived image: its ETag. */
  @Column({ type: 'varchar', length: 32 })
  md5!: string;

  @Column({ type: 'int' })
  size!: number;

  @Column({ type: 'varchar', length: 64 })
  type!: string;

  /** Epoch ms; the derivative's `Last-Modified`. */
  @Column({ type: 'bigint', transformer: bigintNumber })
  created!: number;
}
