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
import { CurrentUser } from '../auth/user.decorator';
import { StorageAuthGuard } from '../auth/storage-auth.guard';
import { StorageExceptionFilter } from '../errors/storage-exception.filter';
import { StorageError } from '../errors/storage.error';
import type { FileRecord } from '../database/file-record';
import { StorageService } from '../storage.service';
import { readMultipartUpload, readRawUpload } from './upload-request';
import { FilePath } from './path-param';
import { sendStorageResponse } from './send-file';

/** Upload, download, meta, list and delete. Thin: parse, call the service, answer. */
@Controller()
@UseGuards(StorageAuthGuard)
@UseFilters(StorageExceptionFilter)
export class FilesController {
  constructor(private readonly service: StorageService) {}

  /** multipart/form-data: `file` plus optional `name`, `md5`, `contentType`, `storage`, `expires`. */
  @Post('files')
  upload(@Req() req: Request, @Res({ passthrough: true }) res: Response, @CurrentUser() user?: string) {
    return readMultipartUpload(this.service, req, res, user);
  }

  /** The raw request body is the file; `Content-Type` is its type. */
  @Put('files/*path')
  @HttpCode(201)
  put(
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
    @FilePath() path: string,
    @CurrentUser() user?: string,
  ): Promise<FileRecord> {
    return readRawUpload(this.service, req, res, path, user);
  }

  @Get('files')
  list(
    @Query('storage') storage?: string,
    @Query('prefix') prefix?: string,
    @Query('limit') limit?: string,
    @Query('cursor') cursor?: string,
  ) {
    return this.service.list({ storage, prefix, limit: limit === undefined ? undefined : Number(limit), cursor });
  }

  @Get('files/*path')
  download(@Req() req: Request, @Res() res: Response, @FilePath() path: string, @Query('storage') storage?: string) {
    return sendStorageResponse(req, res, this.service.downloadResponse(path, storage));
  }

  @Head('files/*path')
  head(@Req() req: Request, @Res() res: Response, @FilePath() path: string, @Query('storage') storage?: string) {
    return this.download(req, res, path, storage);
  }

  @Get('meta/*path')
  meta(@FilePath() path: string, @Query('storage') storage?: string): Promise<FileRecord> {
    return this.service.getMeta(path, storage);
  }

  /** Every record of the path, or with `?id=` only that one (one reference to shared content). */
  @Delete('files/*path')
  @HttpCode(204)
  async remove(@FilePath() path: string, @Query('storage') storage?: string, @Query('id') id?: string): Promise<void> {
    await this.service.delete(path, storage, { id: recordId(id) });
  }
}

function recordId(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const id = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(id)) throw StorageError.invalidArgument('id must be a record id');
  return id;
}
