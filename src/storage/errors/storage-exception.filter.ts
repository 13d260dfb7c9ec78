import { Catch, HttpException, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { MulterError } from 'multer';
import { quoteInput, StorageError, StorageErrorCode } from './storage.error';
import { databaseFailureKind, databaseUnavailable, isDatabaseUnavailable } from './database-errors';

const CODE_BY_STATUS: Record<number, StorageErrorCode> = {
  400: StorageErrorCode.INVALID_ARGUMENT,
  401: StorageErrorCode.UNAUTHORIZED,
  403: StorageErrorCode.ACCESS_DENIED,
  404: StorageErrorCode.NOT_FOUND,
  408: StorageErrorCode.TIMEOUT,
  409: StorageErrorCode.CONFLICT,
  412: StorageErrorCode.PRECONDITION_FAILED,
  413: StorageErrorCode.TOO_LARGE,
  415: StorageErrorCode.UNSUPPORTED_MEDIA_TYPE,
  416: StorageErrorCode.RANGE_NOT_SATISFIABLE,
  429: StorageErrorCode.TOO_MANY_REQUESTS,
  503: StorageErrorCode.BACKEND_UNAVAILABLE,
};

/**
 * Maps every error on the module's own routes to `{statusCode, code, message}` (bound to its
 * controllers, never global). A host may bind it to its own controllers that call
 * `StorageService`, so that storage errors keep their status there too.
 */
@Catch()
export class StorageExceptionFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    writeStorageError(host.switchToHttp().getResponse<Response>(), exception);
  }
}

const logger = new Logger('StorageExceptionFilter');

/** The JSON error body for `exception`: what the filter and `sendStorageResponse` answer. */
export interface StorageErrorBody {
  statusCode: number;
  code: StorageErrorCode;
  message: string;
}

/**
 * Answers `exception` on `res` as `{statusCode, code, message}` with `Cache-Control: no-store`
 * and `Retry-After` when the error says when to retry (server faults are logged, never shown); when the body had already started, cuts the
 * connection instead, so that a client never takes a truncated file for a whole one.
 */
export function writeStorageError(res: Response, exception: unknown): void {
  const body = describeException(exception);
  // Read by the module's metrics middleware (errors by code, database failures by kind) when the answer ends.
  res.locals.storageErrorCode = body.code;
  if (body.code === StorageErrorCode.DATABASE_UNAVAILABLE) {
    res.locals.storageDatabaseFailure = databaseFailureKind(exception);
  }
  if (body.statusCode >= 500) logger.error(`${body.code}: ${describeCause(exception)}`);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.setHeader('X-Content-Type-Options', 'nosniff');
  const retryAfter = exception instanceof StorageError ? exception.context.retryAfterSeconds : undefined;
  if (typeof retryAfter === 'number') res.setHeader('Retry-After', String(Math.max(1, Math.ceil(retryAfter))));
  // The request's body was not read to its end: the connection cannot carry another request.
  if (body.statusCode === 408) res.setHeader('Connection', 'close');
  res.status(body.statusCode).setHeader('Cache-Control', 'no-store');
  res.json(body);
}

/** Client errors keep their message (written to be shown); anything unexpected is a bare 500. */
export function describeException(exception: unknown): StorageErrorBody {
  if (!(exception instanceof StorageError) && isDatabaseUnavailable(exception)) {
    return describeException(databaseUnavailable(exception));
  }
  if (exception instanceof StorageError) {
    const internal = exception.status >= 500 && exception.code === StorageErrorCode.INTERNAL;
    return {
      statusCode: exception.status,
      code: exception.code,
      message: internal ? 'internal error' : exception.message,
    };
  }
  if (exception instanceof MulterError) {
    const tooBig = exception.code === 'LIMIT_FILE_SIZE' || exception.code === 'LIMIT_FIELD_VALUE';
    return {
      statusCode: tooBig ? 413 : 400,
      code: tooBig ? StorageErrorCode.TOO_LARGE : StorageErrorCode.INVALID_ARGUMENT,
      message: `multipart: ${exception.message}${exception.field ? ` (${quoteInput(exception.field)})` : ''}`,
    };
  }
  if (exception instanceof HttpException) {
    const statusCode = exception.getStatus();
    const response = exception.getResponse();
    const message =
      typeof response === 'object' && response !== null && 'message' in response
        ? [(response as { message: unknown }).message].flat().join('; ')
        : exception.message;
    return { statusCode, code: CODE_BY_STATUS[statusCode] ?? StorageErrorCode.INTERNAL, message };
  }
  const status = (exception as { status?: unknown; statusCode?: unknown })?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // body-parser and friends: a malformed request, described without internals.
    return {
      statusCode: status,
      code: CODE_BY_STATUS[status] ?? StorageErrorCode.INVALID_ARGUMENT,
      message: 'malformed request',
    };
  }
  return { statusCode: 500, code: StorageErrorCode.INTERNAL, message: 'internal error' };
}

function describeCause(exception: unknown): string {
  if (exception instanceof Error) {
    const cause = (exception as { cause?: unknown }).cause;
    return `${exception.stack ?? exception.message}${cause ? `\ncaused by: ${describeCause(cause)}` : ''}`;
  }
  return String(exception);
}
