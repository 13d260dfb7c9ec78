/** The part of s3rver 3.x (no bundled types) that the test peer uses. */
declare module 's3rver' {
  interface S3rverOptions {
    address?: string;
    port?: number;
    silent?: boolean;
    directory?: string;
    resetOnClose?: boolean;
    configureBuckets?: { name: string; configs: (string | Buffer)[] }[];
  }
  /** The Koa context s3rver's middleware sees (the part the peer touches). */
  interface S3rverContext {
    method: string;
    /** The request target as sent: raw path and query. */
    url: string;
    headers: import('node:http').IncomingHttpHeaders;
    query: Record<string, string | string[] | undefined>;
    req: import('node:http').IncomingMessage;
    status: number;
    type: string;
    body: unknown;
  }
  class S3rver {
    constructor(options: S3rverOptions);
    /** Koa's middleware list; composed when the server starts listening. */
    middleware: ((ctx: S3rverContext, next: () => Promise<void>) => Promise<void>)[];
    run(): Promise<{ address: string; port: number }>;
    close(): Promise<void>;
  }
  namespace S3rver {
    export { S3rverContext };
  }
  export = S3rver;
}
