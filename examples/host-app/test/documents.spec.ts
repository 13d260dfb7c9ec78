import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isStorageError, StorageErrorCode, StorageService, type FileRecord } from 'storage-svc';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { API_TOKEN, PUBLIC_BASE_URL, startApp, type RunningApp } from './harness';

interface DocumentBody {
  id: number;
  title: string;
  owner: string;
  attachment: FileRecord;
}

/** Headers the storage module puts on the answers of its own routes and its error bodies. */
const MODULE_HEADERS = ['x-content-type-options'];

describe('host app: documents with attachments stored by storage-svc', () => {
  let running: RunningApp;
  let storage: StorageService;
  const text = 'Hello, host app! These bytes went through multer, to disk, then into storage.\n';

  beforeAll(async () => {
    running = await startApp();
    storage = running.app.get(StorageService);
  });
  afterAll(() => running?.close());

  const http = () => request(running.url);

  async function createDocument(title: string, body: Buffer | string, filename: string): Promise<DocumentBody> {
    const res = await http()
      .post('/documents')
      .set('X-User', 'alice')
      .field('title', title)
      .attach('file', Buffer.from(body), filename)
      .expect(201);
    return res.body as DocumentBody;
  }

  it('uploads through its own route: multer on disk, uploadByFile, the record saved as-is', async () => {
    const doc = await createDocument('Greeting', text, 'greeting.txt');
    expect(doc.title).toBe('Greeting');
    expect(doc.owner).toBe('alice');
    expect(doc.attachment).toMatchObject({
      fileName: 'greeting.txt',
      size: Buffer.byteLength(text),
      type: expect.stringMatching(/^text\/plain/),
      uploadUser: 'alice',
      storeFullName: 'storages.Default',
    });
    // A file object without `path` is stored at a new unique key, never over another upload.
    expect(doc.attachment.name).toMatch(/^uploads\/.+\.txt$/);
    expect(doc.attachment.url.startsWith(`${PUBLIC_BASE_URL}/files-api/`)).toBe(true);

    // The row holds the record exactly as uploadByFile returned it, and the module agrees.
    const [row] = await running.app.get(DataSource).query('SELECT attachment FROM documents WHERE id = ?', [doc.id]);
    expect(JSON.parse(row.attachment)).toEqual(doc.attachment);
    expect(await storage.getMeta(doc.attachment.name)).toEqual(doc.attachment);
    expect((await storage.download(doc.attachment.name)).toString()).toBe(text);

    // multer's temporary file is gone once stored.
    expect(fs.readdirSync(running.config.uploadTmpDir)).toEqual([]);
    // Two uploads of the same name are two files.
    const again = await createDocument('Greeting again', 'other bytes', 'greeting.txt');
    expect(again.attachment.name).not.toBe(doc.attachment.name);
    expect((await storage.download(doc.attachment.name)).toString()).toBe(text);
  });

  it('uploads through the injected StorageService: a file on disk, and a path with data', async () => {
    const tmp = path.join(running.config.uploadTmpDir, 'direct.bin');
    const bytes = randomBytes(4096);
    fs.writeFileSync(tmp, bytes);
    const record = await storage.uploadByFile({
      file: { originalname: 'direct.bin', path: tmp, mimetype: 'application/octet-stream', size: bytes.length },
      user: 'batch-job',
    });
    expect(record).toMatchObject({ fileName: 'direct.bin', size: 4096, uploadUser: 'batch-job' });
    expect((await storage.download(record.name)).equals(bytes)).toBe(true);

    const byPath = await storage.uploadByFile({ file: 'reports/2026/summary.txt', data: 'summary', user: 'batch-job' });
    expect(byPath.name).toBe('reports/2026/summary.txt');
    // The module's own routes serve it under the custom prefix, with its bearer token.
    const res = await http()
      .get('/files-api/files/reports/2026/summary.txt')
      .set('Authorization', `Bearer ${API_TOKEN}`)
      .buffer(true)
      .parse(rawBody)
      .expect(200);
    expect((res.body as Buffer).toString()).toBe('summary');
    await http().get('/files-api/files/reports/2026/summary.txt').expect(401);
  });

  it('downloads through its own route: the whole file, a byte range (206), a 304', async () => {
    const doc = await createDocument('Download me', text, 'download.txt');
    const whole = await http().get(`/documents/${doc.id}/file`).buffer(true).parse(rawBody).expect(200);
    expect((whole.body as Buffer).toString()).toBe(text);
    expect(whole.headers['content-disposition']).toMatch(/^attachment;.*download\.txt/);
    expect(whole.headers['accept-ranges']).toBe('bytes');

    const part = await http()
      .get(`/documents/${doc.id}/file`)
      .set('Range', 'bytes=7-14')
      .buffer(true)
      .parse(rawBody)
      .expect(206);
    expect((part.body as Buffer).toString()).toBe(text.slice(7, 15));
    expect(part.headers['content-range']).toBe(`bytes 7-14/${Buffer.byteLength(text)}`);

    await http().get(`/documents/${doc.id}/file`).set('If-None-Match', whole.headers.etag).expect(304);
  });

  it('previews through its own route, with a Range request answered 206', async () => {
    const doc = await createDocument('Preview me', text, 'preview.txt');
    const full = await http().get(`/documents/${doc.id}/preview`).buffer(true).parse(rawBody).expect(200);
    expect(full.headers['content-disposition']).toMatch(/^inline/);
    expect((full.body as Buffer).toString()).toBe(text);

    const res = await http()
      .get(`/documents/${doc.id}/preview`)
      .set('Range', 'bytes=0-4')
      .buffer(true)
      .parse(rawBody)
      .expect(206);
    expect((res.body as Buffer).toString()).toBe('Hello');
    expect(res.headers['content-range']).toBe(`bytes 0-4/${Buffer.byteLength(text)}`);
    expect(res.headers['content-length']).toBe('5');

    // The module's public preview route serves the same file.
    const viaModule = await http()
      .get(`/files-api/preview/${doc.attachment.name}`)
      .set('Range', 'bytes=0-4')
      .buffer(true)
      .parse(rawBody)
      .expect(206);
    expect((viaModule.body as Buffer).toString()).toBe('Hello');
  });

  it('deletes: the stored file and the document go; the module then answers 404 E_NOT_FOUND', async () => {
    const doc = await createDocument('Delete me', text, 'delete.txt');
    const name = doc.attachment.name;
    await http().delete(`/documents/${doc.id}`).expect(204);

    expect(await storageErrorOf(storage.getMeta(name))).toBe(StorageErrorCode.NOT_FOUND);
    const meta = await http().get(`/files-api/meta/${name}`).set('Authorization', `Bearer ${API_TOKEN}`).expect(404);
    expect(meta.body).toEqual({ statusCode: 404, code: 'E_NOT_FOUND', message: expect.stringContaining(name) });
    // The document is gone: the app's own 404, in Nest's usual shape.
    const gone = await http().get(`/documents/${doc.id}/file`).expect(404);
    expect(gone.body).toEqual({ statusCode: 404, error: 'Not Found', message: `document ${doc.id} not found` });

    // StorageService.delete of a file that is not there is E_NOT_FOUND too.
    expect(await storageErrorOf(storage.delete(name))).toBe(StorageErrorCode.NOT_FOUND);
  });

  it("a missing file through the module's own routes is 404 with code E_NOT_FOUND", async () => {
    const files = await http()
      .get('/files-api/files/nowhere/missing.txt')
      .set('Authorization', `Bearer ${API_TOKEN}`)
      .expect(404);
    expect(files.body).toEqual({
      statusCode: 404,
      code: 'E_NOT_FOUND',
      message: expect.stringContaining('nowhere/missing.txt'),
    });
    const preview = await http().get('/files-api/preview/nowhere/missing.txt').expect(404);
    expect(preview.body).toMatchObject({ statusCode: 404, code: 'E_NOT_FOUND' });
    // The module marks its own answers (the check below, on the app's answers, can fail).
    expect(files.headers['x-content-type-options']).toBe('nosniff');
    expect(files.headers['cache-control']).toBe('no-store');
  });

  it('serves the file manager page built into the package, under its own prefix and policy', async () => {
    const page = await http()
      .get('/files-api/ui/')
      .expect(200)
      .expect('Content-Type', /text\/html/);
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    expect(page.text).toContain('src="app.js"');
    const script = await http()
      .get('/files-api/ui/app.js')
      .expect(200)
      .expect('Content-Type', /javascript/);
    expect(Number(script.headers['content-length'])).toBeGreaterThan(1000);
  });

  it('a storage error from its own route (the file vanished under a document) is the module’s 404', async () => {
    const doc = await createDocument('Vanishing', text, 'vanishing.txt');
    await storage.delete(doc.attachment.name);
    const res = await http().get(`/documents/${doc.id}/file`).expect(404);
    expect(res.body).toEqual({ statusCode: 404, code: 'E_NOT_FOUND', message: expect.any(String) });
  });

  it('its own 422 comes back exactly as it threw it: no code added, details kept, no module headers', async () => {
    const res = await http().post('/documents').field('title', '').expect(422);
    expect(res.body).toStrictEqual({
      statusCode: 422,
      error: 'Unprocessable Entity',
      message: ['title must be a non-empty string', 'file must be attached'],
      details: { received: { title: 'string', file: null } },
    });
    expectNoModuleHeaders(res.headers);

    // With a file but no title: the same 422, and multer's temporary file is removed.
    const withFile = await http().post('/documents').attach('file', Buffer.from('x'), 'x.txt').expect(422);
    expect(withFile.body).toStrictEqual({
      statusCode: 422,
      error: 'Unprocessable Entity',
      message: ['title must be a non-empty string'],
      details: { received: { title: 'undefined', file: 'x.txt' } },
    });
    expect(fs.readdirSync(running.config.uploadTmpDir).filter((f) => f !== 'direct.bin')).toEqual([]);
  });

  it('its other answers carry no header the module adds, and its JSON body parser is its own', async () => {
    const doc = await createDocument('Rename me', text, 'rename.txt');
    const renamed = await http().patch(`/documents/${doc.id}`).send({ title: 'Renamed' }).expect(200);
    expect(renamed.body).toMatchObject({ id: doc.id, title: 'Renamed', attachment: doc.attachment });
    expectNoModuleHeaders(renamed.headers);

    const bad = await http().patch(`/documents/${doc.id}`).send({ title: 42 }).expect(422);
    expect(bad.body).toStrictEqual({
      statusCode: 422,
      error: 'Unprocessable Entity',
      message: ['title must be a non-empty string'],
      details: { field: 'title' },
    });
    expectNoModuleHeaders(bad.headers);

    const list = await http().get('/documents').expect(200);
    expect((list.body as DocumentBody[]).map((d) => d.id)).toContain(doc.id);
    expectNoModuleHeaders(list.headers);

    const missing = await http().get('/documents/999999').expect(404);
    expect(missing.body).toStrictEqual({ statusCode: 404, error: 'Not Found', message: 'document 999999 not found' });
    expectNoModuleHeaders(missing.headers);

    const notInt = await http().get('/documents/abc').expect(400);
    expect(notInt.body).not.toHaveProperty('code');
    expectNoModuleHeaders(notInt.headers);
  });
});

/** The code of the StorageError `promise` rejects with; anything else is described instead. */
function storageErrorOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'resolved',
    (err: unknown) => (isStorageError(err) ? err.code : `not a StorageError: ${String(err)}`),
  );
}

function expectNoModuleHeaders(headers: Record<string, unknown>): void {
  for (const name of MODULE_HEADERS) expect(headers).not.toHaveProperty(name);
  expect(headers['cache-control']).toBeUndefined();
}

/** supertest: the body as one Buffer, whatever its type. */
function rawBody(response: unknown, done: (err: Error | null, body: Buffer) => void): void {
  const res = response as NodeJS.ReadableStream;
  const chunks: Buffer[] = [];
  res.on('data', (chunk: Buffer) => chunks.push(chunk));
  res.on('end', () => done(null, Buffer.concat(chunks)));
  res.on('error', (err: Error) => done(err, Buffer.alloc(0)));
}
