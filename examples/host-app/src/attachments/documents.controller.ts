import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  Param,
  ParseIntPipe,
  Patch,
  Post,
  Req,
  Res,
  UnprocessableEntityException,
  UploadedFile,
  UseInterceptors,
} from '@nestjs/common';
import { FileInterceptor } from '@nestjs/platform-express';
import type { Request, Response } from 'express';
import { rm } from 'node:fs/promises';
import { sendStorageResponse } from 'storage-svc';
import type { DocumentEntity } from './document.entity';
import { DocumentsService } from './documents.service';

/** The app's own routes. Its errors are Nest's usual `HttpException` bodies, untouched by the storage module. */
@Controller('documents')
export class DocumentsController {
  constructor(private readonly documents: DocumentsService) {}

  /**
   * `multipart/form-data` with `title` and `file`. multer writes the file to the temporary folder
   * (`MulterModule`'s `dest`, see AttachmentsModule), never into memory; the storage module reads it from there.
   */
  @Post()
  @UseInterceptors(FileInterceptor('file'))
  async create(
    @UploadedFile() file: Express.Multer.File | undefined,
    @Body('title') title: unknown,
    @Headers('x-user') user: string | undefined,
  ): Promise<DocumentEntity> {
    const problems: string[] = [];
    if (typeof title !== 'string' || title.trim() === '') problems.push('title must be a non-empty string');
    if (!file) problems.push('file must be attached');
    if (!file || problems.length > 0) {
      if (file) await rm(file.path, { force: true });
      throw new UnprocessableEntityException({
        statusCode: 422,
        error: 'Unprocessable Entity',
        message: problems,
        details: { received: { title: typeof title, file: file ? file.originalname : null } },
      });
    }
    return this.documents.create(String(title).trim(), file, user ?? 'anonymous');
  }

  @Get()
  list(): Promise<DocumentEntity[]> {
    return this.documents.list();
  }

  @Get(':id')
  get(@Param('id', ParseIntPipe) id: number): Promise<DocumentEntity> {
    return this.documents.get(id);
  }

  /** A JSON body, read by Nest's own body parser. */
  @Patch(':id')
  rename(@Param('id', ParseIntPipe) id: number, @Body() body: { title?: unknown }): Promise<DocumentEntity> {
    if (typeof body?.title !== 'string' || body.title.trim() === '') {
      throw new UnprocessableEntityException({
        statusCode: 422,
        error: 'Unprocessable Entity',
        message: ['title must be a non-empty string'],
        details: { field: 'title' },
      });
    }
    return this.documents.rename(id, body.title.trim());
  }

  /**
   * The attachment as a download. An unknown document is this app's own 404 (thrown before any
   * byte is sent); ranges, `304`s and storage errors (the file is gone: 404 `E_NOT_FOUND`) are
   * `sendStorageResponse`'s.
   */
  @Get(':id/file')
  async download(@Param('id', ParseIntPipe) id: number, @Req() req: Request, @Res() res: Response): Promise<void> {
    const document = await this.documents.get(id);
    await sendStorageResponse(req, res, this.documents.download(document));
  }

  @Get(':id/preview')
  async preview(@Param('id', ParseIntPipe) id: number, @Req() req: Request, @Res() res: Response): Promise<void> {
    const document = await this.documents.get(id);
    await sendStorageResponse(req, res, this.documents.preview(document));
  }

  @Get(':id/thumbnail')
  async thumbnail(@Param('id', ParseIntPipe) id: number, @Req() req: Request, @Res() res: Response): Promise<void> {
    const document = await this.documents.get(id);
    await sendStorageResponse(req, res, this.documents.thumbnail(document, 64));
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@Param('id', ParseIntPipe) id: number): Promise<void> {
    await this.documents.remove(id);
  }
}
