import * as net from 'node:net';
import { startS3rver, type S3Peer } from './harness/peers/s3rver';
import { freePort } from './harness/peers/ports';
import { s3Instance } from './harness/peers/instances';
import { createTestApp, type TestApp } from './harness/test-app';

/**
 * A backend that is down or hangs answers 503 `E_BACKEND_UNAVAILABLE` within its configured
 * timeout, and the other instances keep serving meanwhile. A hanging backend costs one
 * timeout: the SDK's attempts at a PUT share it, and the clean-up of the failed write goes on
 * in the background.
 */
describe('a backend that is down', () => {
  let t: TestApp;
  let s3: S3Peer;
  let s3Closed = false;
  let hang: net.Server;
  const sockets = new Set<net.Socket>();

  beforeAll(async () => {
    s3 = await startS3rver(['down-bucket']);
    // Accepts connections and never answers: the worst kind of outage.
    hang = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => hang.listen(0, '127.0.0.1', resolve));
    const closedPort = await freePort();
    const s3Options = (endpoint: string, bucket: string) =>
      s3Instance({ endpoint, credentials: s3.credentials }, bucket, { timeoutMs: 1000 });
    t = await createTestApp({
      config: {
        storages: {
          'storages.Refused': s3Options(`http://127.0.0.1:${closedPort}`, 'b'),
          'storages.Hangs': s3Options(`http://127.0.0.1:${(hang.address() as net.AddressInfo).port}`, 'b'),
          'storages.Goes': s3Options(s3.endpoint, 'down-bucket'),
        },
      },
    });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => hang.close(resolve));
    if (!s3Closed) await s3?.close();
  });

  const timed = async <T>(work: Promise<T>) => {
    const started = Date.now();
    const result = await work;
    return { result, ms: Date.now() - started };
  };

  it('readiness is red and names each instance that is down (read-only probes under a timeout)', async () => {
    const { result, ms } = await timed(t.http.get('/health/ready'));
    expect(result.status).toBe(503);
    expect(result.body).toMatchObject({
      status: 'error',
      info: { database: { status: 'up' }, 'storages.Goes': { status: 'up' } },
      error: { 'storages.Refused': { status: 'down' }, 'storages.Hangs': { status: 'down' } },
    });
    expect(JSON.stringify(result.body)).not.toContain(s3.credentials.secretAccessKey);
    expect(ms).toBeLessThan(6000);
  });

  it.each(['storages.Refused', 'storages.Hangs'])('%s: upload → 503 within the timeout', async (storage) => {
    const { result, ms } = await timed(
      t.http.put(`/storage/files/${t.prefix}/x.txt?storage=${storage}`).set('Authorization', t.auth).send('data'),
    );
    expect(result.status).toBe(503);
    expect(result.body).toMatchObject({ code: 'E_BACKEND_UNAVAILABLE' });
    expect(result.body.message).not.toContain('127.0.0.1');
    expect(ms).toBeLessThan(2500);
  });

  it('keeps serving the other instances while one hangs', async () => {
    const hanging = t.http
      .put(`/storage/files/${t.prefix}/h.txt?storage=storages.Hangs`)
      .set('Authorization', t.auth)
      .send('x');
    const { result, ms } = await timed(
      t.http.put(`/storage/files/${t.prefix}/ok.txt`).set('Authorization', t.auth).send('fine'),
    );
    expect(result.status).toBe(201);
    expect(ms).toBeLessThan(1000);
    await t.http.get(`/storage/files/${t.prefix}/ok.txt`).set('Authorization', t.auth).expect(200, 'fine');
    expect((await hanging).status).toBe(503);
  });

  it('a stored file whose backend goes away → 503 on download, not 404 or 500', async () => {
    await t.http
      .put(`/storage/files/${t.prefix}/kept.txt?storage=storages.Goes`)
      .set('Authorization', t.auth)
      .send('kept')
      .expect(201);
    await s3.close();
    s3Closed = true;
    const { result, ms } = await timed(
      t.http.get(`/storage/files/${t.prefix}/kept.txt?storage=storages.Goes`).set('Authorization', t.auth),
    );
    expect(result.status).toBe(503);
    expect(result.body.code).toBe('E_BACKEND_UNAVAILABLE');
    expect(ms).toBeLessThan(2500);
    const meta = await t.http
      .get(`/storage/meta/${t.prefix}/kept.txt?storage=storages.Goes`)
      .set('Authorization', t.auth);
    expect(meta.status).toBe(200);
  });
});
