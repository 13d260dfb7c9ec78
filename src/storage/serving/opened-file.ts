import type { FileEntity } from '../database/entities/file.entity';
import type { ObjectStat, OpenObject } from '../drivers/storage-driver';
import type { FileRecord } from '../database/file-record';
import type { StorageInstance } from '../registry/storage-registry';

/**
 * A live file as a response needs it before the body: record, entity, instance and object stat,
 * and the object opened for its bytes (`object.stream`; `object.close` when they are not read).
 */
export interface OpenedFile {
  record: FileRecord;
  entity: FileEntity;
  instance: StorageInstance;
  stat: ObjectStat;
  object: OpenObject;
}
