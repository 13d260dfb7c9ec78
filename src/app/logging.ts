import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { PinoLogger, type Params } from 'nestjs-pino';

/** A request id a client may choose: short, and only characters safe in a log and a header. */
const CLIENT_REQUEST_ID = /^[\w.:-]{1,128}$/;

/** Query parameters that carry a credential: signatures of signed URLs, tokens. */
const SECRET_PARAMS = /([?&](?:sig|signature|token|access_token|x-amz-signature|x-amz-credential)=)[^&#]*/gi;

/** `url` with the values of its credential-bearing query parameters replaced. */
export function redactUrl(url: string | undefined): string | undefined {
  return url?.replace(SECRET_PARAMS, '$1[redacted]');
}

/**
 * The standalone service's logs: JSON lines (pino), one per request when it ends, with its
 * request id (`X-Request-Id` when the client sent a sensible one, else a new UUID, echoed in the
 * response) on every line written while it runs; readable (pino-pretty) only when stdout is a
 * terminal. Requests are logged as method, URL (signatures and tokens redacted) and id: no
 * headers (so no `Authorization`), no bodies. Refused requests (4xx) are one `warn` line without
 * a stack; only server faults (5xx) carry one, logged by the exception filter.
 *
 * nestjs-pino builds the root logger from `pinoHttp` and gives Nest its logger, but mounts no
 * middleware (`forRoutes: []`): each request is logged by `requestLogging`, placed first by the
 * application (pino-http's per-request machinery cost about as much CPU as serving a small file).
 */
export function loggerParams(env: NodeJS.ProcessEnv): Params {
  const tty = process.stdout.isTTY && env.LOG_FORMAT !== 'json';
  return {
    forRoutes: [],
    pinoHttp: {
      level: env.LOG_LEVEL || 'info',
      transport: tty ? { target: 'pino-pretty', options: { singleLine: true } } : undefined,
      serializers: {
        req: (req: { id?: unknown; method?: string; url?: string }) => ({
          id: req.id,
          method: req.method,
          url: redactUrl(req.url),
        }),
        res: (res: { statusCode?: number | null }) => ({ statusCode: res.statusCode }),
        err: (err: { type?: string; message?: string }) => ({ type: err.type, message: err.message }),
      },
      redact: { paths: ['req.headers', 'res.headers', '*.authorization', '*.password', '*.secret'], remove: true },
    },
  };
}

/** The id of a request: the client's `X-Request-Id` when it is sensible, else a new UUID. */
export function requestIdOf(req: IncomingMessage): string {
  const sent = req.headers['x-request-id'];
  return typeof sent === 'string' && CLIENT_REQUEST_ID.test(sent) ? sent : randomUUID();
}

/**
 * The request log, as one middleware placed first: the request id (set on `req.id`, echoed as
 * `X-Request-Id`), a logging context for everything the request logs while it runs (nestjs-pino's,
 * so `Logger` lines carry `req` and `requestId`), and one line when it ends: `request completed`
 * (`info`, `warn` for a 4xx, `error` for a 5xx) or `request aborted` when the client went away
 * first, with the status and the time taken (`responseTime`, ms). `context` is any `PinoLogger`
 * of the application (its context is process-wide).
 */
export function requestLogging(context: PinoLogger): (req: Request, res: Response, next: NextFunction) => void {
  return (req, res, next) => {
    const started = performance.now();
    const id = requestIdOf(req);
    (req as Request & { id?: string }).id = id;
    res.setHeader('X-Request-Id', id);
    const bindings = { req: { id, method: req.method, url: req.originalUrl ?? req.url }, requestId: id };
    context.runInContext(
      () => {
        const log = context.logger;
        let done = false;
        const end = (): void => {
          if (done) return;
          done = true;
          const status = res.statusCode;
          const responseTime = Math.round(performance.now() - started);
          // `res` itself: the serializer pino-http wraps around ours reads `headersSent` from it.
          if (!res.writableFinished) {
            log.info({ res, responseTime }, 'request aborted');
          } else if (status >= 500) {
            const err = { type: 'Error', message: `failed with status code ${status}` };
            log.error({ res, err, responseTime }, 'request errored');
          } else {
            log[status >= 400 ? 'warn' : 'info']({ res, responseTime }, 'request completed');
          }
        };
        res.once('finish', end);
        res.once('close', end);
        next();
      },
      { bindings },
    );
  };
}
