import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Params } from 'nestjs-pino';

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
 */
export function loggerParams(env: NodeJS.ProcessEnv): Params {
  const tty = process.stdout.isTTY && env.LOG_FORMAT !== 'json';
  return {
    pinoHttp: {
      level: env.LOG_LEVEL || 'info',
      transport: tty ? { target: 'pino-pretty', options: { singleLine: true } } : undefined,
      genReqId: (req: IncomingMessage, res: ServerResponse) => {
        const sent = req.headers['x-request-id'];
        const id = typeof sent === 'string' && CLIENT_REQUEST_ID.test(sent) ? sent : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      customProps: (req: IncomingMessage) => ({ requestId: (req as IncomingMessage & { id?: unknown }).id }),
      customLogLevel: (_req, res, err) =>
        res.statusCode >= 500 || err ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
      serializers: {
        req: (req: { id?: unknown; method?: string; url?: string }) => ({
          id: req.id,
          method: req.method,
          url: redactUrl(req.url),
        }),
        res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
        // pino-http makes an error of every 5xx; its stack says nothing the filter's line does not.
        err: (err: { type?: string; message?: string }) => ({ type: err.type, message: err.message }),
      },
      redact: { paths: ['req.headers', 'res.headers', '*.authorization', '*.password', '*.secret'], remove: true },
    },
  };
}
