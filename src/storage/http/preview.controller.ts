import { Controller, Get, Head, Query, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { PublicPreview } from '../auth/public.decorator';
import { StorageAuthGuard } from '../auth/storage-auth.guard';
import { CurrentUser } from '../auth/user.decorator';
import { StorageExceptionFilter } from '../errors/storage-exception.filter';
import { hideInstanceNames } from '../errors/storage.error';
import { StorageService } from '../storage.service';
import { FilePath } from './path-param';
import { PublicRateLimitGuard, RateLimited } from './public-rate-limit.guard';
import { sendStorageResponse } from './send-file';

/** The query of `GET /thumbnail/{path}`. */
interface ThumbnailQuery {
  width?: string;
  height?: string;
  fit?: string;
  format?: string;
  storage?: string;
}

/**
 * Preview and thumbnails (the spec's `preview`, `previewThumbnail`): public on public instances;
 * on a private one (`public: false`) a token with read, or a signed download URL of the file.
 * Limited per client (`rateLimit`). A caller that sends a valid token is known by name: it may ask
 * thumbnails of any size, and is not rate limited.
 */
@Controller()
@UseGuards(StorageAuthGuard, PublicRateLimitGuard)
@UseFilters(StorageExceptionFilter)
export class PreviewController {
  constructor(private readonly service: StorageService) {}

  @PublicPreview()
  @RateLimited('preview')
  @Get('preview/*path')
  async preview(
    @Req() req: Request,
    @Res() res: Response,
    @FilePath() path: string,
    @Query('storage') storage?: string,
  ) {
    await sendStorageResponse(req, res, hideInstanceNames(this.service.preview(path, storage)));
  }

  @PublicPreview()
  @RateLimited('preview')
  @Head('preview/*path')
  previewHead(@Req() req: Request, @Res() res: Response, @FilePath() path: string, @Query('storage') storage?: string) {
    return this.preview(req, res, path, storage);
  }

  @PublicPreview()
  @RateLimited('thumbnail')
  @Get('thumbnail/*path')
  async thumbnail(
    @Req() req: Request,
    @Res() res: Response,
    @FilePath() path: string,
    @Query() query: ThumbnailQuery,
    @CurrentUser() user?: string,
  ) {
    const { width, height, fit, format, storage } = query;
    const options = {
      fit: text(fit),
      format: text(format),
      accept: req.get('accept'),
      anySize: user !== undefined,
      client: user !== undefined ? `user:${user}` : `ip:${req.ip ?? ''}`,
    };
    const file = this.service.previewThumbnail(path, int(width), int(height), text(storage), options);
    await sendStorageResponse(req, res, hideInstanceNames(file));
  }

  @PublicPreview()
  @RateLimited('thumbnail')
  @Head('thumbnail/*path')
  thumbnailHead(
    @Req() req: Request,
    @Res() res: Response,
    @FilePath() path: string,
    @Query() query: ThumbnailQuery,
    @CurrentUser() user?: string,
  ) {
    return this.thumbnail(req, res, path, query, user);
  }
}

/** An absent parameter is undefined; anything but plain digits is NaN, which the service refuses. */
function int(value: unknown): number | undefined {
  if (value === undefined || value === '') return undefined;
  return typeof value === 'string' && /^\d{1,9}$/.test(value) ? Number(value) : Number.NaN;
}

/** A repeated parameter (`?fit=a&fit=b`) arrives as an array: refused by the service as unknown. */
function text(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : String(value);
}
