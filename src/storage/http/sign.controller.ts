import { Body, Controller, HttpCode, Post, Put, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { Public } from '../auth/public.decorator';
import { StorageAuthGuard } from '../auth/storage-auth.guard';
import { StorageExceptionFilter } from '../errors/storage-exception.filter';
import { AccessPolicy } from '../auth/access-policy';
import { RequireScope } from '../auth/public.decorator';
import type { StorageUser } from '../auth/storage-user';
import { Caller } from '../auth/user.decorator';
import type { SignedUrl } from '../drivers/storage-driver';
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
    private readonly access: AccessPolicy,
  ) {}

  /**
   * JSON `{file, contentType, storage?, maxSize?, expiresIn?, md5?, expires?}` → `{url, method, headers, expiresAt}`
   * for an upload (write scope); `{file, method: 'GET', storage?, expiresIn?}` for a download of
   * the live file (read scope).
   */
  @Post('sign')
  @HttpCode(200)
  sign(@Body() body: unknown, @Caller() caller?: StorageUser): Promise<SignedUrl> {
    const { method = 'PUT', ...rest } = fields(body, ['file']);
    const { file, contentType, storage, maxSize, expiresIn, md5, expires } = rest;
    const seconds = expiresIn === undefined ? undefined : Number(expiresIn);
    if (method === 'GET') {
      this.access.check(caller, 'read', storage, file);
      return this.service.getSignUrl(file, undefined, storage, { method, expiresIn: seconds });
    }
    if (method !== 'PUT') throw StorageError.invalidArgument("'method' must be PUT (an upload) or GET (a download)");
    if (contentType === undefined) throw StorageError.invalidArgument("'contentType' is required");
    this.access.check(caller, 'write', storage, file);
    return this.service.getSignUrl(file, contentType, storage, {
      user: caller?.name,
      maxSize: maxSize === undefined ? undefined : Number(maxSize),
      expiresIn: seconds,
      md5,
      expires: expires === undefined ? undefined : Number(expires),
    });
  }

  /** JSON `{file, storage?}`: records a direct upload to a cloud backend's presigned URL. */
  @Post('sign/complete')
  @RequireScope('write')
  @HttpCode(201)
  complete(@Body() body: unknown, @Caller() caller?: StorageUser): Promise<FileRecord> {
    const { file, storage } = fields(body, ['file']);
    this.access.check(caller, 'write', storage, file);
    return this.signed.complete(file, storage, caller?.name);
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

type SignField = 'file' | 'contentType' | 'storage' | 'maxSize' | 'expiresIn' | 'method' | 'md5' | 'expires';

/** The JSON body's fields as strings (numbers kept as given); `required` ones must be there. */
function fields(body: unknown, required: SignField[]): Partial<Record<SignField, string>> & { file: string } {
  if (!body || typeof body !== 'object') throw StorageError.invalidArgument('send a JSON object');
  const source = body as Record<string, unknown>;
  const out: Record<string, string> = {};
  for (const name of ['file', 'contentType', 'storage', 'maxSize', 'expiresIn', 'method', 'md5', 'expires'] as const) {
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
  return out as Partial<Record<SignField, string>> & { file: string };
}
