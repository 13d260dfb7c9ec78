import 'reflect-metadata';
import {
  Controller,
  Get,
  Injectable,
  Module,
  Post,
  Req,
  RequestMethod,
  Res,
  UnprocessableEntityException,
  type CanActivate,
  type DynamicModule,
  type CallHandler,
  type ExecutionContext,
  type INestApplication,
  type MiddlewareConsumer,
  type NestInterceptor,
  type NestModule,
} from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { TypeOrmModule, getRepositoryToken } from '@nestjs/typeorm';
import type { Request, Response } from 'express';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import request from 'supertest';
import type { Repository } from 'typeorm';
import { dataSourceOptions } from '../src/app/database';
import {
  FileEntity,
  StorageMetrics,
  StorageModule,
  StorageService,
  sendStorageResponse,
  type StorageModuleExtras,
  type StorageModuleOptions,
} from '../src/storage';
import { storageDriverToken } from '../src/storage/module/storage.constants';
import { parseMetrics, sum } from './harness/metrics';
import { eventually, md5 } from './harness/util';

/** What Express 5 keeps of a middleware or route. */
type Layer = { name?: string; route?: { path: string } };

/** A host application's own guard: trusts an `X-User` header (for the test only). */
@Injectable()
class HeaderGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest();
    if (!req.headers['x-user']) return false;
    // Limits as a host states them (README: scoped tokens); absent headers: no limits.
    const scopes = req.headers['x-scopes'];
    const prefix = req.headers['x-prefix'];
    req.user = {
      username: req.headers['x-user'],
      ...(scopes !== undefined ? { scopes: String(scopes).split(',').filter(Boolean) } : {}),
      ...(prefix !== undefined ? { prefix } : {}),
    };
    return true;
  }
}

/** A host's own routes: its own errors, its own body handling, and storage sent from its controller. */
@Controller('host')
class HostController {
  constructor(private readonly storage: StorageService) {}

  @Post('items')
  create(): never {
    throw new UnprocessableEntityException({
      statusCode: 422,
      message: ['name must be a string'],
      error: 'Unprocessable Entity',
      details: { field: 'name' },
    });
  }

  /** Counts the raw body: the storage module must not have parsed it. */
  @Post('raw')
  async raw(@Req() req: Request): Promise<{ bytes: number; parsed: boolean }> {
    let bytes = 0;
    for await (const chunk of req) bytes += (chunk as Buffer).length;
    return { bytes, parsed: req.body !== undefined };
  }

  @Get('preview/*path')
  preview(@Req() req: Request, @Res() res: Response): Promise<void> {
    const file = (req.params as Record<string, string[]>).path.join('/');
    return sendStorageResponse(req, res, this.storage.preview(file));
  }

  @Get('download/*path')
  download(@Req() req: Request, @Res() res: Response): Promise<void> {
    const file = (req.params as Record<string, string[]>).path.join('/');
    return sendStorageResponse(req, res, this.storage.downloadResponse(file));
  }
}

describe('StorageModule as a library', () => {
  let dir: string;
  const prefix = `lib${randomBytes(4).toString('hex')}`;

  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'storage-lib-'))));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const storages = () => ({
    'storages.Default': { type: 'storages.LocalType' as const, root: path.join(dir, 'default') },
    'storages.Second': {
      type: 'storages.LocalType' as const,
      root: path.join(dir, 'second'),
      publicUrl: 'https://cdn.test/s',
    },
  });

  function hostModule(
    options: Partial<StorageModuleOptions>,
    extras: StorageModuleExtras = {},
    more: { sqlite?: boolean; controllers?: boolean } = {},
  ): DynamicModule {
    const env = { ...process.env, DATA_DIR: dir, ...(more.sqlite ? { DB_URL: '' } : {}) };
    @Module({})
    class HostModule {}
    return {
      module: HostModule,
      imports: [
        TypeOrmModule.forRoot(dataSourceOptions(env)),
        StorageModule.forRoot({
          storages: storages(),
          publicBaseUrl: 'https://api.host.test',
          apiTokens: { alice: 'alice-token' },
          lifecycle: { sweepEnabled: false, purgeIntervalSeconds: 0 },
          ...options,
          ...extras,
        }),
      ],
      controllers: more.controllers ? [HostController] : [],
    };
  }

  /** Every instance with a public URL of its own: what `http: false` needs. */
  const cdnStorages = () => ({
    ...storages(),
    'storages.Default': { ...storages()['storages.Default'], publicUrl: 'https://cdn.test/d' },
  });

  async function hostApp(module: DynamicModule, appOptions: { bodyParser?: boolean } = {}): Promise<INestApplication> {
    const moduleRef = await Test.createTestingModule({ imports: [module] }).compile();
    const app = moduleRef.createNestApplication({ logger: false, ...appOptions });
    await app.init();
    return app;
  }

  it('injects StorageService with the spec’s methods: uploadByFile (path + data, file object), download, delete', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        hostModule(
          {
            storages: cdnStorages(),
          },
          { http: false },
        ),
      ],
    }).compile();
    await moduleRef.init();
    const storage = moduleRef.get(StorageService);
    expect(moduleRef.get(storageDriverToken('storages.Second'))).toBe(storage.instance('storages.Second').driver);

    const pdf = Buffer.from('%PDF-1.4 pretend');
    const r1 = await storage.uploadByFile({
      file: `${prefix}/reports/report.pdf`,
      data: pdf,
      contentType: 'application/pdf',
    });
    expect(r1).toMatchObject({
      name: `${prefix}/reports/report.pdf`,
      md5: md5(pdf),
      size: pdf.length,
      type: 'application/pdf',
    });
    // Without the module's routes the URL is the backend's own, of this very object version.
    expect(r1.url).toMatch(new RegExp(`^https://cdn\\.test/d/${prefix}/reports/report\\.~v[0-9a-z]+\\.pdf$`));
    expect(await storage.download(`${prefix}/reports/report.pdf`)).toEqual(pdf);

    const text = `file content ${prefix}`;
    const r2 = await storage.uploadByFile({
      file: 'example.txt',
      data: text,
      md5: md5(text),
      contentType: 'text/plain',
    });
    expect(r2.name).toBe(`${md5(text)}.txt`);
    expect(r2.fileName).toBe('example.txt');
    await expect(storage.uploadByFile({ file: 'x.txt', data: 'abc', md5: md5('abd') })).rejects.toMatchObject({
      code: 'E_MD5_MISMATCH',
    });

    const photo = (bytes: number[]) => ({
      originalname: 'photo.jpg',
      mimetype: 'image/jpeg',
      buffer: Buffer.from(bytes),
    });
    const r3 = await storage.uploadByFile({
      file: photo([0xff, 0xd8, 0xff, 1]),
      storage: 'storages.Second',
      expires: 3600,
      user: 'admin123',
    });
    expect(r3).toMatchObject({
      type: 'image/jpeg',
      fileName: 'photo.jpg',
      uid: md5('photo.jpg'),
      storeFullName: 'storages.Second',
      fullName: 'storages.LocalType',
      uploadUser: 'admin123',
      retentionPeriod: 3600,
    });
    expect(r3.name).toMatch(/^uploads\/[0-9a-z]+\.jpg$/);
    expect(r3.url).toMatch(/^https:\/\/cdn\.test\/s\/uploads\/[0-9a-z]+\.~v[0-9a-z]+\.jpg$/);
    expect(r3.expires! - r3.uploadTime).toBe(3600_000);
    // Another user's photo.jpg, without a path: a key of its own, the first one untouched.
    const r4 = await storage.uploadByFile({ file: photo([0xff, 0xd8, 0xff, 2]), storage: 'storages.Second' });
    expect(r4.name).not.toBe(r3.name);
    expect(await storage.download(r3.name, 'storages.Second')).toEqual(Buffer.from([0xff, 0xd8, 0xff, 1]));
    expect(await storage.download(r4.name, 'storages.Second')).toEqual(Buffer.from([0xff, 0xd8, 0xff, 2]));
    // Named, a file object goes where it is told.
    const r5 = await storage.uploadByFile({ file: photo([7]), path: `${prefix}/me.jpg` });
    expect(r5).toMatchObject({ name: `${prefix}/me.jpg`, fileName: 'photo.jpg' });

    const streamed = await storage.uploadStream({
      file: `${prefix}/stream.bin`,
      body: Readable.from([Buffer.alloc(1000, 1), Buffer.alloc(24, 2)]),
    });
    expect(streamed.size).toBe(1024);
    const { stream, stat } = await storage.downloadStream(`${prefix}/stream.bin`, { range: { start: 999, end: 1000 } });
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c);
    expect(Buffer.concat(chunks)).toEqual(Buffer.from([1, 2]));
    expect(stat.size).toBe(1024);

    await expect(storage.uploadByFile({ file: 'a.txt', data: 'x', storage: 'storages.Nope' })).rejects.toThrow(
      "unknown storage 'storages.Nope'; configured: storages.Default, storages.Second",
    );
    await expect(storage.uploadByFile({ file: 'a.txt' })).rejects.toMatchObject({ code: 'E_INVALID_ARGUMENT' });
    // No routes: no signed URL to a route that does not exist.
    await expect(storage.getSignUrl(`${prefix}/s.txt`, 'text/plain')).rejects.toMatchObject({
      code: 'E_NOT_IMPLEMENTED',
    });

    await storage.delete(`${prefix}/reports/report.pdf`);
    await expect(storage.download(`${prefix}/reports/report.pdf`)).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    expect(fs.existsSync(path.join(dir, 'default', prefix, 'reports'))).toBe(false);
    await moduleRef.close();
  });

  it('without its routes, starts only when every record URL can come from somewhere real', async () => {
    // On SQLite: a start-up that fails leaves its data source open, which on MySQL would keep a pool alive.
    const bare = hostModule({}, { http: false }, { sqlite: true });
    await expect(Test.createTestingModule({ imports: [bare] }).compile()).rejects.toThrow(
      "invalid configuration at 'storages['storages.Default'].publicUrl'",
    );
    const built = hostModule(
      { urlBuilder: ({ storage, key }) => `https://host.test/attachments/${storage}/${key}` },
      { http: false },
    );
    const moduleRef = await Test.createTestingModule({ imports: [built] }).compile();
    const record = await moduleRef.get(StorageService).uploadByFile({ file: `${prefix}/u.txt`, data: 'u' });
    expect(record.url).toBe(`https://host.test/attachments/storages.Default/${prefix}/u.txt`);
    await moduleRef.close();
  });

  it('needs publicBaseUrl while it serves routes, and says so at start-up', async () => {
    const noBase = hostModule({ publicBaseUrl: undefined }, {}, { sqlite: true });
    await expect(Test.createTestingModule({ imports: [noBase] }).compile()).rejects.toThrow(
      "invalid configuration at 'publicBaseUrl': required while the module serves its HTTP API",
    );
  });

  it('refuses a bad configuration at start-up, naming the field', async () => {
    const bad = hostModule(
      { storages: { 'storages.Default': { type: 'storages.LocalType' } as never } },
      { http: false },
      { sqlite: true },
    );
    await expect(Test.createTestingModule({ imports: [bad] }).compile()).rejects.toThrow(
      "invalid configuration at 'storages['storages.Default'].root'",
    );
  });

  it('lets the host swap in its own guard, recording its user; URLs name their instance', async () => {
    const app = await hostApp(hostModule({}, { authGuard: HeaderGuard, routePrefix: 'files-api' }));
    const http = request(app.getHttpServer());
    await http.put(`/files-api/files/${prefix}/g.txt`).send('x').expect(403);
    const res = await http.put(`/files-api/files/${prefix}/g.txt`).set('X-User', 'carol').send('x').expect(201);
    expect(res.body.uploadUser).toBe('carol');
    expect(res.body.url).toBe(`https://api.host.test/files-api/preview/${prefix}/g.txt?storage=storages.Default`);

    // The limits the host's guard puts on req.user hold on the module's routes.
    const reader = { 'X-User': 'dave', 'X-Scopes': 'read' };
    await http.get(`/files-api/files/${prefix}/g.txt`).set(reader).expect(200);
    const write = await http.put(`/files-api/files/${prefix}/g.txt`).set(reader).send('y').expect(403);
    expect(write.body.code).toBe('E_FORBIDDEN');
    await http.delete(`/files-api/files/${prefix}/g.txt`).set(reader).expect(403);
    await http.post('/files-api/admin/sweep').set(reader).expect(403);
    const elsewhere = { 'X-User': 'erin', 'X-Prefix': `${prefix}/other/` };
    await http.get(`/files-api/meta/${prefix}/g.txt`).set(elsewhere).expect(403);
    await http.put(`/files-api/files/${prefix}/other/h.txt`).set(elsewhere).send('z').expect(201);
    // Only its own references without delete-any: carol's file stays.
    const bob = { 'X-User': 'bob', 'X-Scopes': 'read,delete' };
    await http.delete(`/files-api/files/${prefix}/g.txt`).set(bob).expect(403);
    await http.get(`/files-api/files/${prefix}/g.txt`).set('X-User', 'carol').expect(200, 'x');
    await app.close();
  });

  /** A host's global interceptor (`APP_INTERCEPTOR`): counts the requests that reach Nest's route pipeline. */
  @Injectable()
  class CountingInterceptor implements NestInterceptor {
    static seen: string[] = [];
    intercept(context: ExecutionContext, next: CallHandler) {
      CountingInterceptor.seen.push(context.switchToHttp().getRequest<Request>().path);
      return next.handle();
    }
  }

  it('answers downloads and previews ahead of the route pipeline only where no global enhancer would miss them', async () => {
    const reached = async (fastReads: StorageModuleExtras['fastReads'], globalInterceptor: boolean) => {
      const module = hostModule({}, { routePrefix: 'fast', ...(fastReads === undefined ? {} : { fastReads }) });
      if (globalInterceptor) module.providers = [{ provide: APP_INTERCEPTOR, useClass: CountingInterceptor }];
      const app = await hostApp(module);
      const http = request(app.getHttpServer());
      const auth = { Authorization: 'Bearer alice-token' };
      CountingInterceptor.seen = [];
      await http.put(`/fast/files/${prefix}/f.txt`).set(auth).send('fast').expect(201);
      await http.get(`/fast/files/${prefix}/f.txt`).set(auth).expect(200, 'fast');
      await http.head(`/fast/files/${prefix}/f.txt`).set(auth).expect(200);
      await http.get(`/fast/preview/${prefix}/f.txt`).expect(200, 'fast');
      await http.get(`/fast/files/${prefix}/f.txt`).expect(401);
      await http.get(`/fast/meta/${prefix}/f.txt`).set(auth).expect(200);
      await app.close();
      return CountingInterceptor.seen.map((p) => p.split('/')[2]);
    };
    // On by default, unless a global enhancer is there: every route reaches it then (but the
    // refused download, which Nest's guard stops before any interceptor).
    expect(await reached(undefined, true)).toEqual(['files', 'files', 'files', 'preview', 'meta']);
    expect(await reached(false, true)).toEqual(['files', 'files', 'files', 'preview', 'meta']);
    // Asked for: downloads and previews are the middleware's (the upload and meta are not).
    expect(await reached(true, true)).toEqual(['files', 'meta']);
  });

  it('answers raw uploads ahead of the route pipeline only where asked or no global enhancer would miss them', async () => {
    const answers = async (fastUploads: StorageModuleExtras['fastUploads'], globalInterceptor: boolean) => {
      const module = hostModule({}, { routePrefix: 'fastput', ...(fastUploads === undefined ? {} : { fastUploads }) });
      if (globalInterceptor) module.providers = [{ provide: APP_INTERCEPTOR, useClass: CountingInterceptor }];
      const app = await hostApp(module);
      const http = request(app.getHttpServer());
      const auth = { Authorization: 'Bearer alice-token' };
      CountingInterceptor.seen = [];
      const put = await http.put(`/fastput/files/${prefix}/u.txt`).set(auth).send('fast put').expect(201);
      const refused = await http.put(`/fastput/files/${prefix}/u.txt`).send('anonymous').expect(401);
      const multipart = await http.post('/fastput/files').set(auth).attach('file', Buffer.from('m'), 'm.txt');
      await app.close();
      expect(multipart.status).toBe(201);
      expect(put.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(put.headers.etag).toMatch(/^W\/"/);
      expect(put.headers['x-content-type-options']).toBe('nosniff');
      expect(put.body).toMatchObject({ name: `${prefix}/u.txt`, size: 8, md5: md5('fast put') });
      expect(refused.body.code).toBe('E_UNAUTHORIZED');
      return CountingInterceptor.seen.map((p) => `${p.split('/')[2]}${p.split('/').length > 3 ? '/…' : ''}`);
    };
    // The refused upload never reaches an interceptor (Nest's guard stops it first); multipart
    // POST always goes through Nest.
    expect(await answers(undefined, true)).toEqual(['files/…', 'files']);
    expect(await answers(false, true)).toEqual(['files/…', 'files']);
    expect(await answers(true, true)).toEqual(['files']);
  });

  it('answers raw uploads of unusual paths as the route does', async () => {
    const paths = [
      'odd/t.txt/',
      'odd//t.txt',
      'odd/a%2Fb.txt',
      'odd/%E2%9C%93.txt',
      'odd/bad%ZZ.txt',
      'odd/%2E%2E/x.txt',
    ];
    const answers = async (fastUploads: boolean) => {
      const app = await hostApp(hostModule({}, { routePrefix: `odd${String(fastUploads)}`, fastUploads }));
      const http = request(app.getHttpServer());
      const seen: unknown[] = [];
      for (const p of paths) {
        const res = await http
          .put(`/odd${String(fastUploads)}/files/${prefix}/${p}`)
          .set({ Authorization: 'Bearer alice-token' })
          .send('x');
        seen.push([p, res.status, res.body.code ?? res.body.name, res.body.message]);
      }
      await app.close();
      return seen;
    };
    // Refusals (an empty or dot segment, a bad escape: Express's own 400) and decoded segments alike.
    const fast = await answers(true);
    expect(fast.map((answer) => (answer as unknown[])[1])).toEqual([400, 400, 201, 201, 400, 400]);
    expect(fast).toEqual(await answers(false));
  });

  /** Whether the layer `name` sits ahead of every route layer of the module under `/{routePrefix}/`. */
  function layerAhead(app: INestApplication, name: string, routePrefix: string): boolean {
    const stack = (app.getHttpAdapter().getInstance() as { router: { stack: Layer[] } }).router.stack;
    const at = stack.findIndex((layer) => layer.name === name);
    return at >= 0 && at < stack.findIndex((layer) => layer.route?.path.startsWith(`/${routePrefix}/`));
  }

  /** The module's request counters of `app`, parsed (`sum(counts, 'storage_http_requests_total', ...)`). */
  const requestCounts = async (app: INestApplication) =>
    parseMetrics(await app.get(StorageMetrics).registry.getSingleMetricAsString('storage_http_requests_total'));

  it.each([
    [true, 'every method'],
    ['ahead', 'every method'],
    ['ahead', 'GET, HEAD and PUT'],
  ] as const)(
    'with fastReads and fastUploads %s, answers only after every middleware of the host has run (bound to %s)',
    async (mode, binding) => {
      const module = hostModule({}, { routePrefix: 'fastmw', fastReads: mode, fastUploads: mode });
      // Bound to every method, Express holds the gate as a plain middleware; bound to some, as a
      // route layer of each, which the layer placed 'ahead' must not pass either.
      const routes =
        binding === 'every method'
          ? ['*']
          : [RequestMethod.GET, RequestMethod.HEAD, RequestMethod.PUT].map((method) => ({ path: '*', method }));
      @Module({ imports: [module] })
      class GatedHost implements NestModule {
        configure(consumer: MiddlewareConsumer): void {
          // A host's own gate, as middleware: nothing of the storage routes is reached without it.
          consumer
            .apply((req: Request, res: Response, next: () => void) =>
              req.headers['x-gate'] === 'open' ? next() : void res.status(418).json({ gate: 'closed' }),
            )
            .forRoutes(...routes);
        }
      }
      const app = await hostApp({ module: GatedHost });
      const http = request(app.getHttpServer());
      const auth = { Authorization: 'Bearer alice-token' };
      await http.put(`/fastmw/files/${prefix}/m.txt`).set(auth).send('no gate').expect(418);
      await http.put(`/fastmw/files/${prefix}/m.txt`).set(auth).set('X-Gate', 'open').send('gated').expect(201);
      await http.get(`/fastmw/files/${prefix}/m.txt`).set(auth).expect(418);
      await http.get(`/fastmw/preview/${prefix}/m.txt`).expect(418);
      await http.get(`/fastmw/files/${prefix}/m.txt`).set(auth).set('X-Gate', 'open').expect(200, 'gated');
      await http.get(`/fastmw/preview/${prefix}/m.txt`).set('X-Gate', 'open').expect(200, 'gated');
      await app.close();
    },
  );

  it('with fastReads ahead, answers ahead of the module’s route layers, doing their work: metrics, nosniff', async () => {
    const routed = await hostApp(hostModule({}, { routePrefix: 'fastrt', fastReads: true }));
    expect(layerAhead(routed, 'storageFastReads', 'fastrt')).toBe(false);
    await routed.close();
    const app = await hostApp(hostModule({}, { routePrefix: 'fastah', fastReads: 'ahead' }));
    expect(layerAhead(app, 'storageFastReads', 'fastah')).toBe(true);
    const http = request(app.getHttpServer());
    const auth = { Authorization: 'Bearer alice-token' };
    await http.put(`/fastah/files/${prefix}/a.txt`).set(auth).send('ahead').expect(201);
    const before = await requestCounts(app);
    await http.get(`/fastah/files/${prefix}/a.txt`).set(auth).expect(200, 'ahead');
    const missing = await http.get(`/fastah/files/${prefix}/none.txt`).set(auth).expect(404);
    expect(missing.headers['x-content-type-options']).toBe('nosniff');
    const after = await requestCounts(app);
    const moved = (status: string) => {
      const series = ['method="GET"', 'route="/fastah/files/*path"', `status="${status}"`];
      return (
        sum(after, 'storage_http_requests_total', ...series) - sum(before, 'storage_http_requests_total', ...series)
      );
    };
    expect(moved('200')).toBe(1);
    expect(moved('404')).toBe(1);
    await app.close();
  });

  it('with fastUploads ahead, answers raw uploads ahead of the module’s route layers, doing their work', async () => {
    const app = await hostApp(hostModule({}, { routePrefix: 'upah', fastUploads: 'ahead' }));
    expect(layerAhead(app, 'storageFastUploads', 'upah')).toBe(true);
    const http = request(app.getHttpServer());
    const auth = { Authorization: 'Bearer alice-token' };
    const puts = async () =>
      sum(await requestCounts(app), 'storage_http_requests_total', 'method="PUT"', 'route="/upah/files/*path"');
    const before = await puts();
    // A JSON file stays a file: its headers were hidden from the app's JSON parser and put back.
    const json = '{"kept": "as sent"}';
    const put = await http
      .put(`/upah/files/${prefix}/data.json`)
      .set(auth)
      .set('Content-Type', 'application/json')
      .send(json)
      .expect(201);
    expect(put.headers['x-content-type-options']).toBe('nosniff');
    expect(await puts()).toBe(before + 1);
    const got = await http
      .get(`/upah/files/${prefix}/data.json`)
      .set(auth)
      .buffer(true)
      .parse((res, done) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => done(null, text));
      });
    expect(got.status).toBe(200);
    expect(got.headers['content-type']).toContain('application/json');
    expect(got.body).toBe(json);
    await app.close();
  });

  it('changes nothing outside its own routes: the host’s errors, bodies and headers are its own', async () => {
    // Nest's default body parsers on, as in most hosts.
    const app = await hostApp(hostModule({}, { routePrefix: 'files-api' }, { controllers: true }));
    const http = request(app.getHttpServer());

    const own = await http.post('/host/items').send({ name: 1 }).expect(422);
    expect(own.body).toEqual({
      statusCode: 422,
      message: ['name must be a string'],
      error: 'Unprocessable Entity',
      details: { field: 'name' },
    });
    expect(own.headers['x-content-type-options']).toBeUndefined();

    // The module's routes: its own JSON errors and nosniff.
    const missing = await http.get(`/files-api/meta/${prefix}/none.txt`).set('Authorization', 'Bearer alice-token');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({
      statusCode: 404,
      code: 'E_NOT_FOUND',
      message: `file '${prefix}/none.txt' not found in storages.Default`,
    });
    expect(missing.headers['x-content-type-options']).toBe('nosniff');
    const denied = await http.get(`/files-api/files`).expect(401);
    expect(denied.body.code).toBe('E_UNAUTHORIZED');

    // A raw upload of a JSON file, larger than the host's JSON limit: stored byte for byte.
    const json = Buffer.from(JSON.stringify({ pad: 'j'.repeat(300_000) }));
    const put = await http
      .put(`/files-api/files/${prefix}/data.json`)
      .set('Authorization', 'Bearer alice-token')
      .set('Content-Type', 'application/json')
      .send(json.toString())
      .expect(201);
    expect(put.body).toMatchObject({ size: json.length, md5: md5(json), type: 'application/json' });
    const form = Buffer.from('a=1&b=2');
    await http
      .put(`/files-api/files/${prefix}/form.txt`)
      .set('Authorization', 'Bearer alice-token')
      .set('Content-Type', 'application/x-www-form-urlencoded')
      .send(form.toString())
      .expect(201);

    // The host's controller sends storage files with one call: ranges, conditionals, errors.
    const ranged = await http
      .get(`/host/preview/${prefix}/data.json`)
      .set('Range', 'bytes=0-7')
      .responseType('blob')
      .expect(206);
    expect(ranged.headers['content-range']).toBe(`bytes 0-7/${json.length}`);
    expect(ranged.body).toEqual(json.subarray(0, 8));
    await http
      .get(`/host/preview/${prefix}/data.json`)
      .set('If-None-Match', `"${md5(json)}"`)
      .expect(304);
    const download = await http.get(`/host/download/${prefix}/form.txt`).expect(200);
    expect(download.headers['content-disposition']).toMatch(/^attachment; filename="form.txt"/);
    expect(download.text).toBe('a=1&b=2');
    const absent = await http.get(`/host/preview/${prefix}/absent.png`).expect(404);
    expect(absent.body).toMatchObject({ code: 'E_NOT_FOUND' });
    await app.close();
  });

  it('leaves the host’s request bodies alone (no body limit of its own on host routes)', async () => {
    const app = await hostApp(hostModule({}, {}, { controllers: true }), { bodyParser: false });
    const big = Buffer.alloc(1024 * 1024, 'x');
    const res = await request(app.getHttpServer())
      .post('/host/raw')
      .set('Content-Type', 'application/json')
      .send(big.toString())
      .expect(201);
    expect(res.body).toEqual({ bytes: big.length, parsed: false });
    await app.close();
  });

  it('two registrations in one process keep their own route prefixes', async () => {
    const first = await hostApp(hostModule({}, { routePrefix: 'one-api' }));
    const second = await hostApp(hostModule({}, { routePrefix: 'two-api' }));
    const auth = { Authorization: 'Bearer alice-token' };
    await request(first.getHttpServer()).get('/one-api/files').set(auth).expect(200);
    await request(first.getHttpServer()).get('/two-api/files').set(auth).expect(404);
    await request(second.getHttpServer()).get('/two-api/files').set(auth).expect(200);
    await request(second.getHttpServer()).get('/one-api/files').set(auth).expect(404);
    await first.close();
    await second.close();
  });

  it('a saved record URL serves the same file after the default instance changes', async () => {
    const withDefault = (name: string) =>
      hostModule({ settings: { defaultElement: { defaultStorage: name } } }, { routePrefix: 'files-api' });
    const auth = { Authorization: 'Bearer alice-token' };
    const before = await hostApp(withDefault('storages.Default'));
    const saved = await request(before.getHttpServer())
      .put(`/files-api/files/${prefix}/same.txt`)
      .set(auth)
      .send('bytes of Default')
      .expect(201);
    await request(before.getHttpServer())
      .put(`/files-api/files/${prefix}/same.txt?storage=storages.Second`)
      .set(auth)
      .send('bytes of Second')
      .expect(201);
    await before.close();

    const after = await hostApp(withDefault('storages.Second'));
    const url = new URL(saved.body.url);
    const res = await request(after.getHttpServer())
      .get(url.pathname + url.search)
      .expect(200);
    expect(res.text).toBe('bytes of Default');
    await after.close();
  });

  it('sweeps expired files on its own schedule, without ScheduleModule in the host', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        hostModule(
          {
            storages: cdnStorages(),
            lifecycle: { sweepEnabled: true, sweepCron: '* * * * * *', purgeIntervalSeconds: 0 },
          },
          { http: false },
        ),
      ],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    const storage = app.get(StorageService);
    const files = app.get<Repository<FileEntity>>(getRepositoryToken(FileEntity));
    await storage.uploadByFile({ file: `${prefix}/brief.txt`, data: 'gone soon', expires: 1 });
    expect(await eventually(async () => (await files.countBy({ name: `${prefix}/brief.txt` })) === 0, 8000)).toBe(true);
    await app.close();
  });
});
