import {
  Controller,
  Delete,
  Get,
  Head,
  HttpCode,
  Post,
  Put,
  Query,
  Req,
  Res,
  UseFilters,
  UseGuards,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { AccessPolicy } from '../auth/access-policy';
import { RequireScope, SignedRead } from '../auth/public.decorator';
import type { StorageUser } from '../auth/storage-user';
import { Caller } from '../auth/user.decorator';
import { StorageAuthGuard } from '../auth/storage-auth.guard';
import { StorageExceptionFilter } from '../errors/storage-exception.filter';
import { StorageError } from '../errors/storage.error';
import type { FileRecord } from '../database/file-record';
import { StorageService } from '../storage.service';
import { readMultipartUpload, readRawUpload } from './upload-request';
import { FilePath } from './path-param';
import { sendStorageResponse } from './send-file';

/**
 * Upload, download, meta, list and delete. Thin: parse, check the caller's limits for the key
 * (`AccessPolicy`; downloads are checked by the guard, which also takes signed download URLs),
 * call the service, answer.
 */
@Controller()
@UseGuards(StorageAuthGuard)
@UseFilters(StorageExceptionFilter)
export class FilesController {
  constructor(
    private readonly service: StorageService,
    private readonly access: AccessPolicy,
  ) {}

  /** multipart/form-data: `file` plus optional `name`, `md5`, `contentType`, `storage`, `expires`. */
  @Post('files')
  @RequireScope('write')
  upload(@Req() req: Request, @Res({ passthrough: true }) res: Response, @Caller() caller?: StorageUser) {
    return readMultipartUpload(this.service, req, res, caller?.name, this.writer(caller));
  }

  /** The raw request body is the file; `Content-Type` is its type. */
  @Put('files/*path')
  @RequireScope('write')
  @HttpCode(201)
  put(
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
    @FilePath() path: string,
    @Caller() caller?: StorageUser,
  ): Promise<FileRecord> {
    return readRawUpload(this.service, req, res, path, caller?.name, this.writer(caller));
  }

  /** A token limited to a prefix lists only under it (its own prefix when none is asked for). */
  @Get('files')
  @RequireScope('read')
  async list(
    @Caller() caller?: StorageUser,
    @Query('storage') storage?: string,
    @Query('prefix') prefix?: string,
    @Query('limit') limit?: string,
    @Query('cursor') cursor?: string,
  ) {
    const scoped = this.access.listPrefix(caller, storage, prefix);
    const page = await this.service.list({
      storage,
      prefix: scoped,
      limit: limit === undefined ? undefined : Number(limit),
      cursor,
    });
    return { ...page, items: this.access.visible(caller, page.items) };
  }

  @Get('files/*path')
  @SignedRead()
  download(@Req() req: Request, @Res() res: Response, @FilePath() path: string, @Query('storage') storage?: string) {
    return sendStorageResponse(req, res, this.service.downloadResponse(path, storage));
  }

  @Head('files/*path')
  @SignedRead()
  head(@Req() req: Request, @Res() res: Response, @FilePath() path: string, @Query('storage') storage?: string) {
    return this.download(req, res, path, storage);
  }

  @Get('meta/*path')
  @RequireScope('read')
  meta(
    @FilePath() path: string,
    @Caller() caller?: StorageUser,
    @Query('storage') storage?: string,
  ): Promise<FileRecord> {
    this.access.check(caller, 'read', storage, path);
    return this.service.getMeta(path, storage);
  }

  /**
   * Every record of the path, or with `?id=` only that one (one reference to shared content).
   * Without `delete-any`, only when every record that would go is the caller's own.
   */
  @Delete('files/*path')
  @RequireScope('delete')
  @HttpCode(204)
  async remove(
    @FilePath() path: string,
    @Caller() caller?: StorageUser,
    @Query('storage') storage?: string,
    @Query('id') id?: string,
  ): Promise<void> {
    this.access.check(caller, 'delete', storage, path);
    await this.service.delete(path, storage, { id: recordId(id), onlyBy: this.access.removableBy(caller) });
  }

  /** The check of an upload's instance and final key, made before a byte is stored. */
  private writer(caller: StorageUser | undefined) {
    return (storage: string, key: string) => void this.access.check(caller, 'write', storage, key);
  }
}

function recordId(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const id = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(id)) throw StorageError.invalidArgument('id must be a record id');
  return id;
}
