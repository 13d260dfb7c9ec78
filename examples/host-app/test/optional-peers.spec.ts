import type { LoggerService } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { StorageService } from 'storage-svc';
import request from 'supertest';
import { createApp } from '../src/app';
import { AppModule } from '../src/app.module';
import { PNG_1X1, resolvableFrom, startApp, testConfig, type RunningApp } from './harness';

// This app installs no cloud SDK and no sharp: storage-svc loads them only when used.
const libDir = path.dirname(require.resolve('storage-svc/package.json'));
const strict = process.env.HOST_APP_CI === '1';
const silent: LoggerService = { log: () => undefined, error: () => undefined, warn: () => undefined };
/** Runs `name` only where `pkg` cannot be found from the library (always under CI, where finding it fails the test). */
function whereAbsent(pkg: string): jest.It {
  const found = resolvableFrom(libDir, pkg);
  if (found && !strict) {
    process.emitWarning(`${pkg} is reachable from ${libDir} (${found}): skipping the test that needs it absent`);
    return it.skip;
  }
  return it;
}

describe('optional peers the app does not install', () => {
  // A failed start stops at the first provider that fails; others (the data source creating its
  // database) may still be finishing in their folders: removed when the file is done.
  const leftovers: string[] = [];
  afterAll(() => {
    for (const dir of leftovers) fs.rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  });

  whereAbsent('@aws-sdk/client-s3')(
    'an S3 instance fails at start-up with an error naming @aws-sdk/client-s3 and the install command',
    async () => {
      expect(resolvableFrom(libDir, '@aws-sdk/client-s3')).toBeNull();
      const withS3 = () => {
        const config = testConfig({
          extraStorages: {
            'storages.Archive': { type: 'storages.S3Type', bucket: 'archive', region: 'eu-west-1' },
          },
        });
        leftovers.push(config.dir);
        return config;
      };
      // The app's own bootstrap rejects (NestFactory with abortOnError: false), naming the instance.
      const started = createApp(withS3(), false);
      await expect(started).rejects.toThrow('@aws-sdk/client-s3');
      await expect(started).rejects.toThrow(/npm install @aws-sdk\/client-s3\b/);
      await expect(started).rejects.toThrow('storages.Archive');
      // So does a testing module of the same app.
      const compiled = Test.createTestingModule({ imports: [AppModule.forRoot(withS3())] })
        .setLogger(silent)
        .compile();
      await expect(compiled).rejects.toThrow(/npm install @aws-sdk\/client-s3\b/);
    },
  );

  describe('thumbnails without sharp', () => {
    let running: RunningApp;
    beforeAll(async () => (running = await startApp()));
    afterAll(() => running?.close());

    whereAbsent('sharp')(
      'answer 501 naming sharp, on the module route and the app route, and the app goes on',
      async () => {
        expect(resolvableFrom(libDir, 'sharp')).toBeNull();
        const http = () => request(running.url);
        const doc = await http()
          .post('/documents')
          .field('title', 'Pixel')
          .attach('file', PNG_1X1, 'pixel.png')
          .expect(201);
        const name: string = doc.body.attachment.name;

        for (const url of [`/files-api/thumbnail/${name}?width=32&height=32`, `/documents/${doc.body.id}/thumbnail`]) {
          const res = await http().get(url).expect(501);
          expect(res.body).toEqual({
            statusCode: 501,
            code: 'E_NOT_IMPLEMENTED',
            message: expect.stringContaining('npm install sharp'),
          });
        }
        await expect(running.app.get(StorageService).previewThumbnail(name, 32, 32)).rejects.toThrow(/sharp/);

        // Not a crash: the same app still serves the image itself.
        const image = await http().get(`/documents/${doc.body.id}/file`).expect(200);
        expect(Number(image.headers['content-length'])).toBe(PNG_1X1.length);
      },
    );
  });
});
