import {
  Controller,
  Delete,
  Get,
  Head,
  Options,
  Param,
  Patch,
  Post,
  Req,
  Res,
  UseFilters,
  UseGuards,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { AccessPolicy } from '../auth/access-policy';
import { Public, RequireScope } from '../auth/public.decorator';
import { StorageAuthGuard } from '../auth/storage-auth.guard';
import type { StorageUser } from '../auth/storage-user';
import { Caller } from '../auth/user.decorator';
import type { FileRecord } from '../database/file-record';
import { StorageExceptionFilter } from '../errors/storage-exception.filter';
import { StorageError, StorageErrorCode } from '../errors/storage.error';
import { CHECKSUM_ALGORITHMS, parseUploadChecksum } from '../tus/upload-checksum';
import type { TusRequest } from '../tus/tus-request';
import { RECORD_HEADER, TusService } from '../tus/tus.service';
import { uploadIdleSignal } from './upload-idle';

const OFFSET_STREAM = 'application/offset+octet-stream';

/**
 * Resumable uploads, tus 1.0.0 at `{prefix}/tus` (extensions: creation, creation-with-upload,
 * termination, expiration, checksum with sha1/sha256/md5), served by `TusService`. Every request
 * but `OPTIONS` needs a token with `write`; an upload is its creator's only.
 *
 * The completion contract, for clients:
 * - `POST {prefix}/tus` with `Upload-Length` and `Upload-Metadata` (`name` = the path, `filename`,
 *   `filetype`, optional `storage`, `md5`, `expires`): checked with the rules of a normal upload
 *   before any byte (403/413/400 with the service's JSON error), then 201 with `Location`.
 * - The request that brings the last byte (a `PATCH`, or the creation itself) answers
 *   `Storage-Record: encodeURIComponent(JSON.stringify(record))`: the file record, as every
 *   upload route returns it (`JSON.parse(decodeURIComponent(value))`), and so does a `HEAD` of
 *   the finished upload (what a client resuming a complete upload sends). A refusal then (md5
 *   mismatch) is the service's JSON error, and the upload is gone; another failure (429, a
 *   backend down) keeps it, and `GET` below records it later.
 * - `GET {prefix}/tus/{id}` (the upload's URL): 200 with the record JSON once complete (making it
 *   first if the last byte arrived but the answer was lost), 409 `E_CONFLICT` while bytes are
 *   missing, 404 once the upload expired (`Upload-Expires`) or was terminated.
 */
@Controller()
@UseGuards(StorageAuthGuard)
@UseFilters(StorageExceptionFilter)
export class TusController {
  constructor(
    private readonly tus: TusService,
    private readonly access: AccessPolicy,
  ) {}

  /** Protocol discovery (also a browser's preflight): no token, nothing about any upload. */
  @Options(['tus', 'tus/:id'])
  @Public()
  options(@Req() req: Request, @Res() res: Response): Promise<void> {
    res.setHeader('Tus-Checksum-Algorithm', CHECKSUM_ALGORITHMS.join(','));
    return this.serve(req, res, undefined);
  }

  @Post('tus')
  @RequireScope('write')
  create(@Req() req: Request, @Res() res: Response, @Caller() caller?: StorageUser): Promise<void> {
    return this.serve(req, res, caller);
  }

  @Head('tus/:id')
  @RequireScope('write')
  async offset(@Req() req: Request, @Res() res: Response, @Caller() caller?: StorageUser): Promise<void> {
    const record = await this.tus.finishedRecordHeader(req.params.id as string | undefined, caller?.name);
    if (record) res.setHeader(RECORD_HEADER, record);
    return this.serve(req, res, caller);
  }

  @Patch('tus/:id')
  @RequireScope('write')
  append(@Req() req: Request, @Res() res: Response, @Caller() caller?: StorageUser): Promise<void> {
    res.setHeader('Tus-Resumable', '1.0.0');
    if (req.headers['content-type'] !== OFFSET_STREAM) {
      throw new StorageError(StorageErrorCode.UNSUPPORTED_MEDIA_TYPE, `send the bytes as ${OFFSET_STREAM}`);
    }
    return this.serve(req, res, caller);
  }

  @Delete('tus/:id')
  @RequireScope('write')
  terminate(@Req() req: Request, @Res() res: Response, @Caller() caller?: StorageUser): Promise<void> {
    return this.serve(req, res, caller);
  }

  /** The finished upload's file record (see the contract above). */
  @Get('tus/:id')
  @RequireScope('write')
  record(@Param('id') id: string, @Caller() caller?: StorageUser): Promise<FileRecord> {
    return this.tus.record(id, caller?.name, this.writer(caller));
  }

  private serve(req: Request, res: Response, caller: StorageUser | undefined): Promise<void> {
    // Also on the refusals answered here, before tus runs (the protocol wants it on every answer).
    if (req.method !== 'OPTIONS') res.setHeader('Tus-Resumable', '1.0.0');
    const parsed = parseUploadChecksum(header(req, 'upload-checksum'));
    if (parsed.outcome === 'unsupported' || parsed.outcome === 'malformed') {
      throw StorageError.invalidArgument(
        `Upload-Checksum must be '<algorithm> <base64 digest>' with one of ${CHECKSUM_ALGORITHMS.join(', ')}`,
      );
    }
    const length = header(req, 'content-length');
    const scope: TusRequest = {
      user: caller?.name,
      authorize: this.writer(caller),
      endpoint: endpointOf(req),
      checksum: parsed.outcome === 'ok' ? parsed.checksum : undefined,
      declaredLength: length === undefined ? undefined : Number(length),
    };
    // A body that stalls for the idle timeout is cut: tus then keeps what arrived and frees the upload.
    const idle = uploadIdleSignal(req);
    const cut = () => req.destroy(idle?.reason as Error);
    idle?.addEventListener('abort', cut, { once: true });
    return this.tus.handle(req, res, scope).finally(() => idle?.removeEventListener('abort', cut));
  }

  private writer(caller: StorageUser | undefined) {
    return (storage: string, key: string) => void this.access.check(caller, 'write', storage, key);
  }
}

function header(req: Request, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** `/{global prefix}/{prefix}/tus` as this request reached it: uploads' `Location` is under it. */
function endpointOf(req: Request): string {
  const path = (req.originalUrl ?? req.url).split('?')[0].replace(/\/+$/, '');
  return req.params.id === undefined ? path : path.slice(0, path.lastIndexOf('/'));
}
