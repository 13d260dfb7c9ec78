import { Controller, type Type } from '@nestjs/common';
import { AdminController } from './admin.controller';
import { DirectUploadController } from './direct-upload.controller';
import { FileManagerController } from './file-manager.controller';
import { FilesController } from './files.controller';
import { PreviewController } from './preview.controller';
import { SignController } from './sign.controller';
import { TusController } from './tus.controller';

const BASES: Type[] = [
  FilesController,
  PreviewController,
  AdminController,
  SignController,
  DirectUploadController,
  TusController,
  FileManagerController,
];

/**
 * The module's controllers mounted under `prefix`: one new subclass of each per registration, with
 * its own route path, so that the shared classes are never changed and two registrations in one
 * process (two prefixes, two apps) do not take each other's routes. Guards, filters and handlers
 * are inherited unchanged.
 */
export function storageControllers(prefix: string): Type[] {
  return BASES.map((base) => {
    const routed = class extends base {};
    Object.defineProperty(routed, 'name', { value: base.name });
    Controller(prefix)(routed);
    return routed;
  });
}

/**
 * Routes, under the prefix, whose body is file bytes read as a raw stream (never by a body
 * parser): raw `PUT` uploads, and the tus creation (`POST`, creation-with-upload) and `PATCH`.
 */
export const RAW_UPLOAD_ROUTES = [
  { method: 'put', path: 'files/*path' },
  { method: 'put', path: 'upload/*path' },
  { method: 'post', path: 'tus' },
  { method: 'patch', path: 'tus/:id' },
] as const;
