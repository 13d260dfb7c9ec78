import { randomBytes } from 'node:crypto';
import { RedisRateLimitStorage } from '../src/storage/http/redis-rate-limit.storage';
import { photoJpeg } from './harness/images';
import { createTestApp, type TestApp } from './harness/test-app';

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const limits = { thumbnail: { limit: 3, ttlSeconds: 60 }, preview: { limit: 2, ttlSeconds: 60 } };

async function withImage(t: TestApp): Promise<string> {
  const key = `${t.prefix}/rl.jpg`;
  await t.service.uploadByFile({ file: key, data: await photoJpeg(40, 40), contentType: 'image/jpeg' });
  return key;
}

describe('public rate limits (in memory)', () => {
  let t: TestApp;
  let key: string;

  beforeAll(async () => {
    t = await createTestApp({ config: { rateLimit: limits } });
    key = await withImage(t);
  });
  afterAll(() => t.close());

  it('answers 429 E_TOO_MANY_REQUESTS with Retry-After past the limit, per route group', async () => {
    for (let i = 0; i < 3; i++) await t.http.get(`/storage/thumbnail/${key}?width=${10 + i}`).expect(200);
    const refused = await t.http.get(`/storage/thumbnail/${key}`).expect(429);
    expect(refused.body).toEqual({
      statusCode: 429,
      code: 'E_TOO_MANY_REQUESTS',
      message: expect.stringContaining('retry in'),
    });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(refused.headers['cache-control']).toBe('no-store');
    await t.http.head(`/storage/thumbnail/${key}`).expect(429);
    // Preview counts apart from thumbnails.
    await t.http.get(`/storage/preview/${key}`).expect(200);
    await t.http.head(`/storage/preview/${key}`).expect(200);
    await t.http.get(`/storage/preview/${key}`).expect(429);
  });

  it("does not limit a token holder, nor the module's other routes, nor the host's", async () => {
    for (let i = 0; i < 5; i++) {
      await t.http
        .get(`/storage/thumbnail/${key}?width=${20 + i}`)
        .set('Authorization', t.auth)
        .expect(200);
      await t.http.get(`/storage/preview/${key}`).set('Authorization', t.auth).expect(200);
      await t.http.get(`/storage/files/${key}`).set('Authorization', t.auth).expect(200);
      const host = await t.http.get('/health/live').expect(200);
      expect(host.headers['x-ratelimit-limit']).toBeUndefined();
    }
  });
});

describe('public rate limits in Redis (REDIS_URL), shared by replicas', () => {
  const keyPrefix = `test:ratelimit:${randomBytes(4).toString('hex')}:`;
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    const options = { env: { REDIS_URL }, config: { rateLimit: { ...limits, keyPrefix } } };
    [a, b] = await Promise.all([createTestApp(options), createTestApp(options)]);
  });
  afterAll(() => Promise.all([a.close(), b.close()]));

  it("counts one client's requests across replicas", async () => {
    const [ka, kb] = [await withImage(a), await withImage(b)];
    await a.http.get(`/storage/thumbnail/${ka}`).expect(200);
    await b.http.get(`/storage/thumbnail/${kb}`).expect(200);
    await a.http.get(`/storage/thumbnail/${ka}`).expect(200);
    const refused = await b.http.get(`/storage/thumbnail/${kb}`).expect(429);
    expect(refused.body.code).toBe('E_TOO_MANY_REQUESTS');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    await a.http.get(`/storage/thumbnail/${ka}`).expect(429);
    await a.http.get(`/storage/preview/${ka}`).expect(200);
  });
});

describe('public rate limits when Redis cannot be reached', () => {
  let t: TestApp;

  beforeAll(async () => {
    // Nothing listens on port 1: a real unreachable Redis.
    t = await createTestApp({ config: { rateLimit: { ...limits, redis: 'redis://127.0.0.1:1' } } });
  });
  afterAll(() => t.close());

  it('lets requests through rather than failing the public routes', async () => {
    const key = await withImage(t);
    for (let i = 0; i < 5; i++) await t.http.get(`/storage/thumbnail/${key}`).expect(200);
  });
});

describe('RedisRateLimitStorage', () => {
  const storage = new RedisRateLimitStorage(REDIS_URL, `test:ratelimit:${randomBytes(4).toString('hex')}:`);
  beforeAll(() => storage.onModuleInit());
  afterAll(() => storage.onApplicationShutdown());

  it('counts a fixed window, blocks past the limit for blockDuration, then starts afresh', async () => {
    const hit = () => storage.increment('ip', 400, 2, 300, 'default');
    expect(await hit()).toEqual({ totalHits: 1, timeToExpire: 1, isBlocked: false, timeToBlockExpire: 0 });
    expect(await hit()).toMatchObject({ totalHits: 2, isBlocked: false });
    expect(await hit()).toMatchObject({ totalHits: 3, isBlocked: true, timeToBlockExpire: 1 });
    expect(await hit()).toMatchObject({ isBlocked: true });
    await new Promise((r) => setTimeout(r, 350));
    expect(await hit()).toMatchObject({ totalHits: 1, isBlocked: false });
  });
});
