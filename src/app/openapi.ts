import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { STATUS_BY_CODE } from '../storage/errors/storage.error';

/*
 * The API description lives here, in the standalone app, not as decorators on the library's
 * controllers: importing `@nestjs/swagger` there would make it a hard dependency of every host
 * (and its majors follow Nest's: 11.x for Nest 11, 12.x for Nest 12). Swagger's explorer still
 * finds every route the module registered (paths and path parameters come from Nest itself, so
 * a new route cannot be left out); this file adds what the routes do not say: query parameters,
 * the multipart and raw bodies, the record, and every error answer with its codes.
 */

const ERROR_BODY = {
  type: 'object',
  required: ['statusCode', 'code', 'message'],
  properties: {
    statusCode: { type: 'integer' },
    code: { type: 'string', enum: Object.keys(STATUS_BY_CODE) },
    message: { type: 'string', description: 'what went wrong and what to do; never a secret' },
  },
};

const FILE_RECORD = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    md5: { type: 'string' },
    uid: { type: 'string' },
    url: { type: 'string' },
    name: { type: 'string', description: 'the path (key) of the file in its instance' },
    size: { type: 'integer' },
    type: { type: 'string', description: 'content type' },
    expires: { type: 'integer', nullable: true, description: 'expiry time, ms since the epoch' },
    fileName: { type: 'string' },
    fullName: { type: 'string', description: 'the instance type' },
    uploadTime: { type: 'integer' },
    uploadUser: { type: 'string', nullable: true },
    updateUserId: { type: 'string', nullable: true },
    storeFullName: { type: 'string', nullable: true, description: 'the instance, e.g. storages.local' },
    retentionPeriod: { type: 'integer', nullable: true },
  },
};

const UPLOAD_FIELDS = {
  storage: { type: 'string', description: 'instance, e.g. storages.local (default instance if left out)' },
  md5: { type: 'string', description: 'content-addressed upload: the hex md5 the bytes must have' },
  expires: { type: 'string', description: 'seconds until the file expires' },
};

/** Statuses every route of the module may answer, and those only some answer. */
const COMMON_ERRORS = [400, 401, 403, 404, 500, 503];
const UPLOAD_ERRORS = [408, 409, 413, 415, 429, 507];
const READ_ERRORS = [412, 416];

type Operation = {
  parameters?: unknown[];
  requestBody?: unknown;
  responses: Record<string, unknown>;
  tags?: string[];
};

function errorResponse(status: number): unknown {
  const codes = Object.entries(STATUS_BY_CODE)
    .filter(([, s]) => s === status)
    .map(([code]) => code);
  return {
    description: codes.length ? `error: ${codes.join(', ')}` : `error (status ${status})`,
    content: { 'application/json': { schema: { allOf: [{ $ref: '#/components/schemas/StorageError' }] } } },
  };
}

/** tus 1.0.0 (see README, "Resumable uploads"): the protocol's headers and answers, by method. */
const TUS_OPERATIONS: Record<string, { summary: string; statuses: number[] }> = {
  options: {
    summary: 'tus: protocol discovery (Tus-Version, Tus-Extension, Tus-Max-Size, Tus-Checksum-Algorithm)',
    statuses: [204],
  },
  post: {
    summary:
      'tus: create an upload (Upload-Length, Upload-Metadata: name, filename, filetype, storage, md5, expires); a body of application/offset+octet-stream is its first bytes',
    statuses: [201, 413],
  },
  head: { summary: "tus: the upload's offset (Upload-Offset, Upload-Length, Upload-Metadata)", statuses: [200, 410] },
  patch: {
    summary:
      'tus: append application/offset+octet-stream at Upload-Offset (Upload-Checksum optional); the last answers Storage-Record',
    statuses: [204, 409, 410, 413, 415, 460],
  },
  delete: { summary: 'tus: terminate the upload and remove what it staged', statuses: [204] },
  get: { summary: "the finished upload's file record (409 while bytes are missing)", statuses: [200, 409] },
};

function describeTus(method: string, op: Operation): void {
  const tus = TUS_OPERATIONS[method];
  if (!tus) return;
  (op as { summary?: string }).summary = tus.summary;
  for (const status of tus.statuses) {
    op.responses[String(status)] ??= status < 300 ? { description: 'done' } : errorResponse(status);
  }
  if (method === 'get') {
    op.responses['200'] = {
      description: 'the file record',
      content: { 'application/json': { schema: { $ref: '#/components/schemas/FileRecord' } } },
    };
  }
  if (method === 'patch' || method === 'post') {
    op.requestBody = {
      required: method === 'patch',
      content: { 'application/offset+octet-stream': { schema: { type: 'string', format: 'binary' } } },
    };
  }
}

function describeOperation(method: string, path: string, op: Operation): void {
  if (/\/tus(\/\{id\})?$/.test(path)) describeTus(method, op);
  const upload = method === 'put' || (path.endsWith('/files') && method === 'post');
  const read = (method === 'get' || method === 'head') && /\/(files|preview|thumbnail)\//.test(path);
  for (const status of [...COMMON_ERRORS, ...(upload ? UPLOAD_ERRORS : []), ...(read ? READ_ERRORS : [])]) {
    op.responses[String(status)] ??= errorResponse(status);
  }
  for (const [status, response] of Object.entries(op.responses)) {
    if (status.startsWith('2') && upload) {
      op.responses[status] = {
        ...(response as object),
        content: { 'application/json': { schema: { $ref: '#/components/schemas/FileRecord' } } },
      };
    }
  }
  if (path.endsWith('/files') && method === 'post') {
    op.requestBody = {
      required: true,
      content: {
        'multipart/form-data': {
          schema: {
            type: 'object',
            required: ['file'],
            properties: { file: { type: 'string', format: 'binary' }, path: { type: 'string' }, ...UPLOAD_FIELDS },
          },
        },
      },
    };
  } else if (method === 'put') {
    op.requestBody = { required: true, content: { '*/*': { schema: { type: 'string', format: 'binary' } } } };
    op.parameters = [
      ...(op.parameters ?? []),
      ...Object.entries(UPLOAD_FIELDS).map(([name, schema]) => ({ name, in: 'query', required: false, schema })),
    ];
  } else if (method === 'get' || method === 'head' || method === 'delete') {
    op.parameters = [
      ...(op.parameters ?? []),
      { name: 'storage', in: 'query', required: false, schema: UPLOAD_FIELDS.storage },
    ];
  }
}

/** The module's OpenAPI document, from the routes Nest registered plus the descriptions above. */
export function buildOpenApiDocument(app: INestApplication, prefix: string): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('storage-svc')
    .setDescription('One file API over local disk, S3, MinIO, Aliyun OSS and Azure Blob')
    .addBearerAuth()
    .build();
  const document = SwaggerModule.createDocument(app, config);
  document.components = {
    ...document.components,
    schemas: { ...document.components?.schemas, StorageError: ERROR_BODY, FileRecord: FILE_RECORD } as never,
  };
  for (const [path, item] of Object.entries(document.paths)) {
    if (!path.startsWith(`/${prefix}/`)) continue;
    for (const [method, op] of Object.entries(item as Record<string, Operation>)) {
      if (typeof op === 'object' && op && 'responses' in op) {
        describeOperation(method, path, op);
        op.tags ??= ['storage'];
      }
    }
  }
  return document;
}

/** Serves the UI at `{prefix}/docs` and the JSON at `{prefix}/docs-json`. */
export function setupOpenApi(app: INestApplication, prefix: string): void {
  SwaggerModule.setup(`${prefix}/docs`, app, () => buildOpenApiDocument(app, prefix), {
    jsonDocumentUrl: `${prefix}/docs-json`,
  });
}
