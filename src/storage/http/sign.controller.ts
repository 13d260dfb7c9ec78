import { Body, Controller, HttpCode, Post, Put, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { Public } from '../auth/public.decorator';
import { StorageAuthGuard } from '../auth/storage-auth.guard';
import { StorageExceptionFilter } from '../errors/storage-exception.filter';
import { CurrentUser } from '../auth/user.decorator';
import type { SignedUpload } from '../drivers/storage-driver';
import { hideInstanceNames, StorageError } from '../errors/storage.error';
import type { FileRecord } from '../database/file-record';
import { SignedUploadService } from '../signing/signed-upload.service';
import { StorageService } from '../storage.service';
import { FilePath } from './path-param';
import { streamRawBody } from './upload-request';

/** Signed direct uploads: ask for a URL, upload to it, and (cloud backends) complete it. */
@Controller()
@UseGuards(StorageAuthGuard)
@UseFilters(StorageExceptionFilter)
export class SignController {
  constructor(
    private readonly service: StorageService,
    private readonly signed: SignedUploadService,
  ) {}

  /** JSON `{file, contentType, storage?, maxSize?, expiresIn?}` → `{url, method, headers, expiresAt}`. */
  @Post('sign')
  @HttpCode(200)
  sign(@Body() body: unknown, @CurrentUser() user?: string): Promise<SignedUpload> {
    const { file, contentType, storage, maxSize, expiresIn } = fields(body, ['file', 'contentType']);
    return this.service.getSignUrl(file, contentType, storage, {
      user,
      maxSize: maxSize === undefined ? undefined : Number(maxSize),
      expiresIn: expiresIn === undefined ? undefined : Number(expiresIn),
    });
  }

  /** JSON `{file, storage?}`: records a direct upload to a cloud backend's presigned URL. */
  @Post('sign/complete')
  @HttpCode(201)
  complete(@Body() body: unknown, @CurrentUser() user?: string): Promise<FileRecord> {
    const { file, storage } = fields(body, ['file']);
    return this.signed.complete(file, storage, user);
  }

  /** The signed URL itself (public: the signature is the credential); the body is the file. */
  @Public()
  @Put('upload/*path')
  @HttpCode(201)
  upload(@Req() req: Request, @Res({ passthrough: true }) res: Response, @FilePath() path: string) {
    return streamRawBody(req, res, (body, signal, declared) =>
      hideInstanceNames(
        this.signed.receive({
          path,
          query: req.query as Record<string, unknown>,
          contentType: req.headers['content-type'],
          declared,
          body,
          signal,
        }),
      ),
    );
  }
}

type SignField = 'file' | 'contentType' | 'storage' | 'maxSize' | 'expiresIn';

/** The JSON body's fields as strings (numbers kept as given); `required` ones must be there. */
function fields(body: unknown, required: SignField[]): Record<string, string> & { file: string; contentType: string } {
  if (!body || typeof body !== 'object') throw StorageError.invalidArgument('send a JSON object');
  const source = body as Record<string, unknown>;
  const out: Record<string, string> = {};
  for (const name of ['file', 'contentType', 'storage', 'maxSize', 'expiresIn'] as const) {
    const value = source[name];
    if (value === undefined || value === null || value === '') {
      if (required.includes(name)) throw StorageError.invalidArgument(`'${name}' is required`);
      continue;
    }
    if (typeof value !== 'string' && typeof value !== 'number') {
      throw StorageError.invalidArgument(`'${name}' must be text or a number`);
    }
    out[name] = String(value);
  }
  return out as Record<string, string> & { file: string; contentType: string };
}
