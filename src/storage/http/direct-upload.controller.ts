import { Body, Controller, Get, HttpCode, Post, UseFilters, UseGuards } from '@nestjs/common';
import { AccessPolicy } from '../auth/access-policy';
import { RequireScope } from '../auth/public.decorator';
import { StorageAuthGuard } from '../auth/storage-auth.guard';
import type { StorageUser } from '../auth/storage-user';
import { Caller } from '../auth/user.decorator';
import type { FileRecord } from '../database/file-record';
import type { UploadedPart } from '../drivers/storage-driver';
import { StorageError } from '../errors/storage.error';
import { StorageExceptionFilter } from '../errors/storage-exception.filter';
import { InjectStorageOptions, type ResolvedStorageOptions } from '../options/resolved-options';
import type { InstanceInfo } from '../registry/instance-info';
import { StorageRegistry, type StorageInstance } from '../registry/storage-registry';
import {
  DirectMultipartService,
  type MultipartRef,
  type SignedPart,
  type StartedMultipart,
} from '../signing/direct-multipart.service';

/**
 * What a browser client needs to upload straight to a bucket: the instances and their upload
 * capabilities, and the four steps of a direct multipart upload (start, sign parts, complete,
 * abort). Every step needs `write` on the target key.
 */
@Controller()
@UseGuards(StorageAuthGuard)
@UseFilters(StorageExceptionFilter)
export class DirectUploadController {
  constructor(
    private readonly multipart: DirectMultipartService,
    private readonly registry: StorageRegistry,
    private readonly access: AccessPolicy,
    @InjectStorageOptions() private readonly options: ResolvedStorageOptions,
  ) {}

  /** The instances this token may use, with their backend kind and upload capabilities. */
  @Get('instances')
  @RequireScope('read')
  instances(@Caller() caller?: StorageUser): InstanceInfo[] {
    const names = this.registry.names().filter((name) => !caller?.storages || caller.storages.includes(name));
    return names.map((name) => this.describe(this.registry.get(name)));
  }

  /** JSON `{file, contentType, storage?, size?, partSize?, maxSize?, expiresIn?, md5?, expires?}`. */
  @Post('sign/multipart')
  @RequireScope('write')
  @HttpCode(201)
  start(@Body() body: unknown, @Caller() caller?: StorageUser): Promise<StartedMultipart> {
    const b = object(body);
    const file = text(b, 'file', true);
    const storage = text(b, 'storage');
    this.access.check(caller, 'write', storage, file);
    return this.multipart.start(file, text(b, 'contentType', true), storage, {
      user: caller?.name,
      size: whole(b, 'size'),
      partSize: whole(b, 'partSize'),
      maxSize: whole(b, 'maxSize'),
      expiresIn: whole(b, 'expiresIn'),
      md5: text(b, 'md5'),
      expires: whole(b, 'expires'),
    });
  }

  /** JSON `{file, storage?, id, uploadId, parts: [1, 2, …]}` → `{parts: [{partNumber, url, method, headers, expiresAt}]}`. */
  @Post('sign/multipart/parts')
  @RequireScope('write')
  @HttpCode(200)
  async parts(@Body() body: unknown, @Caller() caller?: StorageUser): Promise<{ parts: SignedPart[] }> {
    const b = object(body);
    const numbers = b.parts;
    if (!Array.isArray(numbers)) throw StorageError.invalidArgument("'parts' must be a list of part numbers");
    return { parts: await this.multipart.signParts(this.ref(b, caller), numbers as number[]) };
  }

  /** JSON `{file, storage?, id, uploadId, parts: [{partNumber, etag}]}` → 201, the record. */
  @Post('sign/multipart/complete')
  @RequireScope('write')
  @HttpCode(201)
  complete(@Body() body: unknown, @Caller() caller?: StorageUser): Promise<FileRecord> {
    const b = object(body);
    const parts = b.parts;
    if (!Array.isArray(parts) || parts.some((p) => !p || typeof p !== 'object')) {
      throw StorageError.invalidArgument("'parts' must be a list of {partNumber, etag}");
    }
    const list = (parts as Record<string, unknown>[]).map((p) => ({ partNumber: p.partNumber, etag: p.etag }));
    return this.multipart.complete(this.ref(b, caller), list as UploadedPart[]);
  }

  /** JSON `{file, storage?, id, uploadId}` → 204; the parts are dropped. */
  @Post('sign/multipart/abort')
  @RequireScope('write')
  @HttpCode(204)
  async abort(@Body() body: unknown, @Caller() caller?: StorageUser): Promise<void> {
    await this.multipart.abort(this.ref(object(body), caller));
  }

  private ref(b: Record<string, unknown>, caller: StorageUser | undefined): MultipartRef {
    const file = text(b, 'file', true);
    const storage = text(b, 'storage');
    this.access.check(caller, 'write', storage, file);
    return { file, storage, id: text(b, 'id', true), uploadId: text(b, 'uploadId', true), user: caller?.name };
  }

  private describe(instance: StorageInstance): InstanceInfo {
    const { driver } = instance;
    const limits = driver.multipartLimits;
    const multipart =
      limits && driver.beginMultipart ? { partSize: Math.max(16 * 1024 * 1024, limits.minPartSize), ...limits } : null;
    return {
      name: instance.name,
      kind: kindOf(instance.type),
      default: instance.name === this.registry.defaultName,
      public: instance.public,
      maxUploadSize: this.options.maxUploadSize,
      uploads: { signed: true, multipart, tus: true },
    };
  }
}

/** `storages.AzureBlobType` → `azure-blob`: the backend kind a client picks a strategy by. */
export function kindOf(type: string): string {
  const bare = type.replace(/^storages\./, '').replace(/Type$/, '');
  return bare.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

function object(body: unknown): Record<string, unknown> {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw StorageError.invalidArgument('send a JSON object');
  return body as Record<string, unknown>;
}

function text(b: Record<string, unknown>, name: string, required: true): string;
function text(b: Record<string, unknown>, name: string): string | undefined;
function text(b: Record<string, unknown>, name: string, required = false): string | undefined {
  const value = b[name];
  if (value === undefined || value === null || value === '') {
    if (required) throw StorageError.invalidArgument(`'${name}' is required`);
    return undefined;
  }
  if (typeof value !== 'string') throw StorageError.invalidArgument(`'${name}' must be text`);
  return value;
}

function whole(b: Record<string, unknown>, name: string): number | undefined {
  const value = b[name];
  if (value === undefined || value === null || value === '') return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw StorageError.invalidArgument(`'${name}' must be a whole number`);
  return n;
}
