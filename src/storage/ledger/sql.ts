import type { EntityManager } from 'typeorm';
import { StorageObjectEntity } from '../database/entities/storage-object.entity';

/** What one hand-written statement returned, the same on SQLite and MySQL. */
export interface SqlResult<T> {
  rows: T[];
  affected: number;
  /** The id an INSERT made (the first, for a multi-row INSERT on MySQL). */
  insertId: number;
}

/**
 * Runs one statement with `?` placeholders (both drivers take them) on `manager`'s connection.
 * The hot paths of the ledger (claim, commit, the sweeper's batches) use this rather than the
 * query builder, whose per-statement building cost about a quarter of an upload's CPU.
 */
export async function sql<T = Record<string, unknown>>(
  manager: EntityManager,
  text: string,
  params: unknown[] = [],
): Promise<SqlResult<T>> {
  const own = manager.queryRunner ? undefined : manager.connection.createQueryRunner();
  const runner = manager.queryRunner ?? own!;
  let result: { records?: T[]; affected?: number; raw: unknown };
  try {
    result = await runner.query(text, params, true);
  } finally {
    if (own) await own.release();
  }
  const raw = result.raw as { insertId?: number } | number | bigint | undefined;
  const insertId = typeof raw === 'object' && raw !== null ? Number(raw.insertId ?? 0) : Number(raw ?? 0);
  return { rows: result.records ?? [], affected: result.affected ?? 0, insertId };
}

/**
 * Whether the database answers `INSERT ... RETURNING` (SQLite 3.35 and later, MariaDB 10.5 and
 * later; MySQL does not): the ids of a multi-row insert then come with it, not from a second read.
 */
export async function insertReturns(manager: EntityManager): Promise<boolean> {
  const type = manager.connection.options.type;
  const sqlite = type !== 'mysql' && type !== 'mariadb';
  const { rows } = await sql<{ v: string }>(manager, sqlite ? 'SELECT sqlite_version() AS v' : 'SELECT VERSION() AS v');
  const version = String(rows[0]?.v ?? '');
  const [major, minor] = version.split(/[.-]/).map(Number);
  if (sqlite) return major > 3 || (major === 3 && minor >= 35);
  return /mariadb/i.test(version) && (major > 10 || (major === 10 && minor >= 5));
}

/** `?, ?, ?` for a list of `count` values (an IN list, a VALUES row). */
export function placeholders(count: number): string {
  return new Array<string>(count).fill('?').join(', ');
}

export const OBJECT_COLUMNS = 'id, keyHash, storeFullName, name, dedup, md5, size, generation, createdAt, updatedAt';

/** A `storage_objects` row as `OBJECT_COLUMNS` reads it (MySQL answers bigints as strings). */
export function objectRow(raw: Record<string, unknown>): StorageObjectEntity {
  return Object.assign(new StorageObjectEntity(), {
    id: Number(raw.id),
    keyHash: String(raw.keyHash),
    storeFullName: String(raw.storeFullName),
    name: String(raw.name),
    dedup: Number(raw.dedup) === 1 || raw.dedup === true,
    md5: raw.md5 === null ? null : String(raw.md5),
    size: raw.size === null ? null : Number(raw.size),
    generation: Number(raw.generation),
    createdAt: Number(raw.createdAt),
    updatedAt: Number(raw.updatedAt),
  });
}
