import { Controller, Get, InternalServerErrorException, Logger, Module, NotFoundException } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger as NestPinoLogger, LoggerModule, PinoLogger, type Params } from 'nestjs-pino';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { loggerParams, requestLogging } from './logging';

/** Every JSON line the application's root logger writes. */
const lines: Record<string, unknown>[] = [];
const sink = new Writable({
  write(chunk: Buffer, _encoding, callback) {
    for (const line of chunk.toString().split('\n')) if (line.startsWith('{')) lines.push(JSON.parse(line));
    callback();
  },
});

@Controller()
class ProbeController {
  private readonly logger = new Logger('Probe');

  @Get('inside')
  inside(): string {
    this.logger.log('logged while the request runs');
    return 'ok';
  }

  @Get('fault')
  fault(): never {
    throw new InternalServerErrorException('broken on purpose');
  }

  @Get('missing')
  missing(): never {
    throw new NotFoundException();
  }

  @Get('slow')
  async slow(): Promise<string> {
    await new Promise((resolve) => setTimeout(resolve, 300));
    return 'late';
  }
}

const params = loggerParams({ LOG_FORMAT: 'json', LOG_LEVEL: 'info' });
const withSink: Params = { ...params, pinoHttp: [params.pinoHttp as object, sink] };

@Module({ imports: [LoggerModule.forRoot(withSink)], controllers: [ProbeController] })
class ProbeModule {}

/**
 * The service's request log (`requestLogging` with nestjs-pino mounting nothing): one line per
 * request when it ends, the request id on every line written meanwhile, and pino-http's output
 * kept (fields, levels, messages) without its per-request machinery.
 */
describe('requestLogging', () => {
  let app: NestExpressApplication;
  let base: string;

  beforeAll(async () => {
    app = await NestFactory.create<NestExpressApplication>(ProbeModule, { bufferLogs: true });
    app.useLogger(app.get(NestPinoLogger));
    app.use(requestLogging(new PinoLogger(withSink)));
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  });
  afterAll(() => app.close());

  const settle = () => new Promise((resolve) => setTimeout(resolve, 50));
  const ofRequest = (id: string) => lines.filter((line) => line.requestId === id);

  it('echoes a sensible client id, puts it on the lines logged meanwhile, and ends with one completion line', async () => {
    const res = await fetch(`${base}/inside?sig=SECRET&x=1`, { headers: { 'X-Request-Id': 'client-7' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('client-7');
    await settle();
    const [inside, done] = ofRequest('client-7');
    expect(inside).toMatchObject({
      level: 30,
      context: 'Probe',
      msg: 'logged while the request runs',
      req: { id: 'client-7', method: 'GET', url: '/inside?sig=[redacted]&x=1' },
    });
    expect(done).toMatchObject({ level: 30, msg: 'request completed', res: { statusCode: 200 } });
    expect(typeof done.responseTime).toBe('number');
    expect(ofRequest('client-7')).toHaveLength(2);
    expect(JSON.stringify(lines)).not.toContain('SECRET');
  });

  it('replaces an id that is not safe in a log, and logs a 4xx as warn and a 5xx as error', async () => {
    const refused = await fetch(`${base}/missing`, { headers: { 'X-Request-Id': 'bad id\twith tab' } });
    expect(refused.status).toBe(404);
    const id = refused.headers.get('x-request-id') as string;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const fault = await fetch(`${base}/fault`);
    expect(fault.status).toBe(500);
    await settle();
    expect(ofRequest(id)).toEqual([expect.objectContaining({ level: 40, res: { statusCode: 404 } })]);
    const faultLines = ofRequest(fault.headers.get('x-request-id') as string);
    expect(faultLines.at(-1)).toMatchObject({
      level: 50,
      msg: 'request errored',
      res: { statusCode: 500 },
      err: { message: 'failed with status code 500' },
    });
  });

  it('logs a request the client gave up on as aborted, once', async () => {
    const controller = new AbortController();
    const pending = fetch(`${base}/slow`, { signal: controller.signal, headers: { 'X-Request-Id': 'gone-1' } });
    setTimeout(() => controller.abort(), 100);
    await expect(pending).rejects.toThrow();
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(ofRequest('gone-1')).toEqual([expect.objectContaining({ msg: 'request aborted', level: 30 })]);
  });

  it('leaves the request id off a line logged outside any request', async () => {
    new Logger('Outside').log('between requests');
    await settle();
    const outside = lines.find((line) => line.msg === 'between requests');
    expect(outside).toBeDefined();
    expect(outside).not.toHaveProperty('requestId');
  });
});
