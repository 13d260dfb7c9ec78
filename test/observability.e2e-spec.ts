import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compileService, killChildServers, startChildServer, type CompiledService } from './harness/child-server';
import { createTestApp, TOKEN, type TestApp } from './harness/test-app';
import { enc } from './harness/util';
import { parseMetrics, sum } from './harness/metrics';

type Layer = { route?: { path: string; methods: Record<string, boolean> }; handle?: { stack?: Layer[] } };

/** Every `METHOD path` Express has a route for, read from its router stack (not from swagger). */
function registeredRoutes(app: TestApp['app']): string[] {
  const router = (app.getHttpAdapter().getInstance() as { router: { stack: Layer[] } }).router;
  const out: string[] = [];
  const walk = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const method of Object.keys(layer.route.methods)) out.push(`${method.toUpperCase()} ${layer.route.path}`);
      } else if (layer.handle?.stack) walk(layer.handle.stack);
    }
  };
  walk(router.stack);
  return out;
}

/** `/storage/files/*path` (Express) and `/storage/files/{path}` (OpenAPI) name the same route. */
const normalize = (route: string) => route.replace(/\*(\w+)|\{(\w+)\}|:(\w+)/g, '{$1$2$3}');

describe('operations: OpenAPI and metrics', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('{prefix}/docs-json lists every route of the module, each with its error answers', async () => {
    const res = await t.http.get('/storage/docs-json').expect(200);
    const doc = res.body as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
    const routes = registeredRoutes(t.app)
      .filter((r) => r.split(' ')[1].startsWith('/storage/') && !r.includes('/storage/docs'))
      .map(normalize);
    expect(routes.length).toBeGreaterThanOrEqual(16);
    const documented = Object.entries(doc.paths).flatMap(([p, item]) =>
      Object.keys(item).map((m) => normalize(`${m.toUpperCase()} ${p}`)),
    );
    for (const route of routes) expect(documented).toContain(route);
    for (const [p, item] of Object.entries(doc.paths)) {
      if (!p.startsWith('/storage/')) continue;
      for (const op of Object.values(item)) {
        for (const status of ['400', '401', '403', '404', '500', '503']) expect(op.responses[status]).toBeDefined();
      }
    }
    const upload = doc.paths['/storage/files'].post;
    expect(JSON.stringify(upload)).toContain('multipart/form-data');
    expect(JSON.stringify(doc.paths['/storage/files/{path}'].put.responses['413'])).toContain('E_TOO_LARGE');
    await t.http.get('/storage/docs').expect(200);
  });

  it('counts an upload, a download and a refused request at GET /metrics', async () => {
    const before = parseMetrics((await t.http.get('/metrics').expect(200)).text);
    const key = `${t.prefix}/m.txt`;
    await t.http
      .put(`/storage/files/${enc(key)}`)
      .set('Authorization', t.auth)
      .set('Content-Type', 'text/plain')
      .send('hello metrics')
      .expect(201);
    await t.http
      .get(`/storage/files/${enc(key)}`)
      .set('Authorization', t.auth)
      .expect(200);
    await t.http.get(`/storage/files/${enc(key)}`).expect(401);
    const after = parseMetrics((await t.http.get('/metrics').expect(200)).text);
    const moved = (name: string, ...has: string[]) => sum(after, name, ...has) - sum(before, name, ...has);
    expect(moved('storage_http_requests_total', 'method="PUT"', 'status="201"')).toBe(1);
    expect(moved('storage_http_requests_total', 'method="GET"', 'status="200"', '/storage/files/*path')).toBe(1);
    expect(moved('storage_http_requests_total', 'method="GET"', 'status="401"')).toBe(1);
    expect(moved('storage_errors_total', 'code="E_UNAUTHORIZED"')).toBe(1);
    expect(moved('storage_upload_bytes_total')).toBe('hello metrics'.length);
    expect(moved('storage_http_bytes_out_total')).toBeGreaterThanOrEqual('hello metrics'.length);
    expect(moved('storage_http_bytes_in_total')).toBeGreaterThanOrEqual('hello metrics'.length);
    expect(moved('storage_http_request_duration_seconds_count', 'method="PUT"')).toBe(1);
    expect(sum(after, 'storage_uploads_in_flight')).toBe(0);
    // A route outside the module is not counted (the middleware is bound to its routes only).
    expect([...after.keys()].some((k) => k.includes('route="/metrics"'))).toBe(false);
  });
});

describe('operations: structured logs', () => {
  let build: CompiledService;
  let dir: string;
  beforeAll(async () => {
    build = await compileService();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'storage-logs-'));
  });
  afterAll(async () => {
    await killChildServers();
    build?.remove();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes JSON lines with a request id, no secret, and no stack for a refused request', async () => {
    const logFile = path.join(dir, 'server.log');
    const server = await startChildServer(build, {
      env: {
        DATA_DIR: path.join(dir, 'data'),
        API_TOKENS: `alice:${TOKEN}`,
        STORAGE_CONFIG: '',
        SWEEP_ENABLED: 'false',
        PURGE_INTERVAL_SECONDS: '0',
        LOG_LEVEL: 'info',
      },
      logFile,
    });
    const put = await fetch(`${server.url}/storage/files/logs/a.txt?sig=SECRETSIG123&token=SECRETTOK`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'text/plain', 'X-Request-Id': 'client-id-1' },
      body: 'FILE-CONTENT-XYZ',
    });
    expect(put.status).toBe(201);
    expect(put.headers.get('x-request-id')).toBe('client-id-1');
    const refused = await fetch(`${server.url}/storage/files/logs/a.txt`, {
      headers: { Authorization: 'Bearer WRONG-TOKEN-SECRET' },
    });
    expect(refused.status).toBe(401);
    const refusedId = refused.headers.get('x-request-id');
    expect(refusedId).toMatch(/^[0-9a-f-]{36}$/);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await server.kill();

    const text = fs.readFileSync(logFile, 'utf8');
    for (const secret of ['SECRETSIG123', 'SECRETTOK', TOKEN, 'WRONG-TOKEN-SECRET', 'FILE-CONTENT-XYZ']) {
      expect(text).not.toContain(secret);
    }
    const lines = text
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const byRequest = (id: string) => lines.filter((l) => l.requestId === id);
    expect(byRequest('client-id-1')).toHaveLength(1);
    expect(JSON.stringify(byRequest('client-id-1')[0])).toContain('sig=[redacted]');
    const refusedLines = byRequest(refusedId as string);
    expect(refusedLines).toHaveLength(1);
    expect(refusedLines[0].level).toBe(40);
    expect(JSON.stringify(refusedLines[0])).not.toMatch(/stack| {4}at /);
    // Every line written while a request ran carries its id.
    for (const line of lines) if (line.req) expect(line.requestId).toBeDefined();
  });
});
