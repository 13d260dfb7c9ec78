import { Controller, Get, Param, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { Public } from '../auth/public.decorator';
import { StorageAuthGuard } from '../auth/storage-auth.guard';
import { StorageExceptionFilter } from '../errors/storage-exception.filter';
import { StorageError, StorageErrorCode } from '../errors/storage.error';
import { loadUiAssets, type UiAsset } from './ui-assets';

/**
 * The page's policy: its own scripts and styles only (nothing inline), images and media from the
 * service or made in the page (`blob:`), API calls to the service alone, never framed.
 */
export const FILE_MANAGER_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "frame-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The file manager page at `{prefix}/ui/`: public, since the page holds no data; every API call
 * it makes sends the token the user gave it.
 */
@Controller()
@UseGuards(StorageAuthGuard)
@UseFilters(StorageExceptionFilter)
export class FileManagerController {
  /** `{prefix}/ui` redirects to `{prefix}/ui/`, so that the page's relative URLs resolve under it. */
  @Public()
  @Get('ui')
  async page(@Req() req: Request, @Res() res: Response): Promise<void> {
    const [pathname, query] = splitUrl(req.originalUrl);
    if (!pathname.endsWith('/')) {
      res.redirect(301, `${pathname}/${query}`);
      return;
    }
    await this.asset(req, res, 'index.html');
  }

  @Public()
  @Get('ui/:asset')
  async asset(@Req() req: Request, @Res() res: Response, @Param('asset') name: string): Promise<void> {
    const assets = await loadUiAssets();
    if (!assets) {
      throw new StorageError(StorageErrorCode.NOT_FOUND, 'the file manager page is not built: run `npm run build`');
    }
    const asset = assets.get(name);
    if (!asset) throw StorageError.notFound(`ui/${name}`);
    sendAsset(req, res, asset);
  }
}

function sendAsset(req: Request, res: Response, asset: UiAsset): void {
  // The gzipped bytes are another representation, so they carry their own tag.
  const gzip = acceptsGzip(req);
  const [body, etag] = gzip ? [asset.gzipped, `${asset.etag.slice(0, -1)}-gz"`] : [asset.body, asset.etag];
  res.setHeader('Content-Security-Policy', FILE_MANAGER_CSP);
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cache-Control', 'no-cache');
  res.setHeader('Vary', 'Accept-Encoding');
  res.setHeader('ETag', etag);
  if (req.headers['if-none-match'] === etag) {
    res.status(304).end();
    return;
  }
  if (gzip) res.setHeader('Content-Encoding', 'gzip');
  res.setHeader('Content-Type', asset.type);
  res.setHeader('Content-Length', body.length);
  res.status(200).end(req.method === 'HEAD' ? undefined : body);
}

/** Whether the client takes gzip: `Accept-Encoding` names it without `q=0`. */
function acceptsGzip(req: Request): boolean {
  const header = req.headers['accept-encoding'];
  if (typeof header !== 'string') return false;
  return header.split(',').some((entry) => {
    const [coding, ...params] = entry.split(';').map((part) => part.trim().toLowerCase());
    const q = params.find((param) => param.startsWith('q='));
    return coding === 'gzip' && (q === undefined || Number(q.slice(2)) > 0);
  });
}

function splitUrl(url: string): [string, string] {
  const at = url.indexOf('?');
  return at < 0 ? [url, ''] : [url.slice(0, at), url.slice(at)];
}
