import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintNumber } from './file.entity';

/**
 * A lease on one resumable upload, held by one request of one process (`owner`) until
 * `expiresAt` (renewed while held). Another request that wants the upload sets
 * `releaseRequested`; the holder sees it at its next renewal and lets go (tus's "request release").
 */
@Entity({ name: 'storage_resumable_locks' })
export class ResumableLockEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id!: string;

  /** `{processIdentity}#{random}`: the process and the request that hold the lease. */
  @Column({ type: 'varchar', length: 200 })
  owner!: string;

  @Column({ type: 'bigint', transformer: bigintNumber })
  expiresAt!: number;

  @Column({ type: 'int', default: 0 })
  releaseRequested!: number;
}
