import { Module } from '@nestjs/common';
import { MulterModule } from '@nestjs/platform-express';
import { TypeOrmModule } from '@nestjs/typeorm';
import { HOST_CONFIG, type HostConfig } from '../config';
import { DocumentEntity } from './document.entity';
import { DocumentsController } from './documents.controller';
import { DocumentsService } from './documents.service';

/** Documents with one attached file each. `StorageService` comes from the (global) StorageModule. */
@Module({
  imports: [
    TypeOrmModule.forFeature([DocumentEntity]),
    // FileInterceptor's options: multer's disk storage in a temporary folder, never memory storage.
    MulterModule.registerAsync({
      inject: [HOST_CONFIG],
      useFactory: (config: HostConfig) => ({
        dest: config.uploadTmpDir,
        limits: { files: 1, fileSize: 100 * 1024 * 1024 },
      }),
    }),
  ],
  controllers: [DocumentsController],
  providers: [DocumentsService],
})
export class AttachmentsModule {}
