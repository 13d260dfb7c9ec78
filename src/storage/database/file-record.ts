import type { FileEntity } from './entities/file.entity';

/** The spec's attachment format: what uploads return and what meta/list serve. */
export interface FileRecord {
  id: number;
  md5: string;
  uid: string;
  url: string;
  name: string;
  size: number;
  type: string;
  expires: number | null;
  fileName: string;
  fullName: string;
  uploadTime: number;
  uploadUser: string | null;
  updateUserId: string | null;
  storeFullName: string | null;
  retentionPeriod: number | null;
}

export function toFileRecord(entity: FileEntity, url: string): FileRecord {
  return {
    id: entity.id,
    md5: entity.md5,
    uid: entity.uid,
    url,
    name: entity.name,
    size: entity.size,
    type: entity.type,
    expires: entity.expires,
    fileName: entity.fileName,
    fullName: entity.fullName,
    uploadTime: entity.uploadTime,
    uploadUser: entity.uploadUser,
    updateUserId: entity.updateUserId,
    storeFullName: entity.storeFullName,
    retentionPeriod: entity.retentionPeriod,
  };
}
