import { Injectable, NotFoundException } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { promises as fs } from 'node:fs';
import { isStorageError, StorageErrorCode, StorageService, type FileResponse } from 'storage-svc';
import type { Repository } from 'typeorm';
import { DocumentEntity } from './document.entity';

/** Documents and their attachments: the rows are this app's, the files the storage module's. */
@Injectable()
export class DocumentsService {
  constructor(
    @InjectRepository(DocumentEntity) private readonly documents: Repository<DocumentEntity>,
    private readonly storage: StorageService,
  ) {}

  /** Stores the file multer wrote to disk (at a new unique key), then the document with its record. */
  async create(title: string, file: Express.Multer.File, owner: string): Promise<DocumentEntity> {
    try {
      const attachment = await this.storage.uploadByFile({ file, user: owner });
      return await this.documents.save(this.documents.create({ title, owner, attachment }));
    } finally {
      // multer's disk storage leaves its temporary file behind: the stored copy is the one kept.
      await fs.rm(file.path, { force: true });
    }
  }

  list(): Promise<DocumentEntity[]> {
    return this.documents.find({ order: { id: 'ASC' } });
  }

  async get(id: number): Promise<DocumentEntity> {
    const document = await this.documents.findOne({ where: { id } });
    if (!document) throw new NotFoundException(`document ${id} not found`);
    return document;
  }

  async rename(id: number, title: string): Promise<DocumentEntity> {
    const document = await this.get(id);
    document.title = title;
    return this.documents.save(document);
  }

  /** The attachment as a download: send it with `sendStorageResponse`. */
  download({ attachment }: DocumentEntity): Promise<FileResponse> {
    return this.storage.downloadResponse(attachment.name, attachment.storeFullName ?? undefined);
  }

  /** The attachment inline where that is safe (the storage module decides). */
  preview({ attachment }: DocumentEntity): Promise<FileResponse> {
    return this.storage.preview(attachment.name, attachment.storeFullName ?? undefined);
  }

  /** A `size` x `size` image of the attachment (needs the optional `sharp` package). */
  thumbnail({ attachment }: DocumentEntity, size: number): Promise<FileResponse> {
    return this.storage.previewThumbnail(attachment.name, size, size, attachment.storeFullName ?? undefined);
  }

  /** Removes the stored file (this record of it) and the document; a file already gone is no error. */
  async remove(id: number): Promise<void> {
    const document = await this.get(id);
    const { name, storeFullName, id: recordId } = document.attachment;
    try {
      await this.storage.delete(name, storeFullName ?? undefined, { id: recordId });
    } catch (err) {
      if (!isStorageError(err, StorageErrorCode.NOT_FOUND)) throw err;
    }
    await this.documents.remove(document);
  }
}
