import express from 'express';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import type { FileResponse } from '../serving/file-response';
import { writeStorageError } from '../errors/storage-exception.filter';
import { sendFileResponse } from './send-file';

/** What a response did with its body: the signals `open` was given, `close` calls, the outcome. */
interface Trace {
  signals: AbortSignal[];
  closes: number;
  outcomes: Array<'sent' | Error>;
}

function fileResponse(trace: Trace, body: () => Readable): FileResponse {
  return {
    size: 6,
    contentType: 'text/plain',
    etag: '"abc"',
    lastModified: new Date('2024-01-01T00:00:00Z'),
    disposition: 'attachment',
    fileName: 'f.txt',
    cacheControl: 'no-cache',
    headers: {},
    open: async (_range, signal) => {
      trace.signals.push(signal!);
      return body();
    },
    close: () => void trace.closes++,
  };
}

async function serve(trace: Trace, body: () => Readable, delayMs = 0): Promise<{ url: string; server: http.Server }> {
  const app = express();
  app.all('/f', async (req, res) => {
    if (delayMs) await new Promise((resolve) => setTimeout(resolve, delayMs));
    sendFileResponse(req, res, fileResponse(trace, body)).then(
      () => trace.outcomes.push('sent'),
      (err: Error) => {
        trace.outcomes.push(err);
        writeStorageError(res, err);
      },
    );
  });
  const server = app.listen(0);
  await new Promise((resolve) => server.once('listening', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/f`, server };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

describe('sendFileResponse: the body and what it holds', () => {
  let trace: Trace;
  let server: http.Server | undefined;
  beforeEach(() => (trace = { signals: [], closes: 0, outcomes: [] }));
  afterEach(() => server?.close());

  it('aborts nothing and throws nothing when responses end normally', async () => {
    const abort = jest.spyOn(AbortController.prototype, 'abort');
    try {
      const started = await serve(trace, () => Readable.from([Buffer.from('abcdef')]));
      server = started.server;
      for (let i = 0; i < 5; i++) expect(await (await fetch(started.url)).text()).toBe('abcdef');
      await settle();
      expect(abort).not.toHaveBeenCalled();
      expect(trace.signals.map((s) => s.aborted)).toEqual([false, false, false, false, false]);
      expect(trace.outcomes).toEqual(['sent', 'sent', 'sent', 'sent', 'sent']);
      expect(trace.closes).toBe(0); // the stream owned what was opened
    } finally {
      abort.mockRestore();
    }
  });

  it.each([
    ['HEAD', { method: 'HEAD' }, 200],
    ['a 304', { headers: { 'If-None-Match': '"abc"' } }, 304],
    ['a 416', { headers: { Range: 'bytes=10-' } }, 416],
  ])('releases what was opened for %s, whose body is never read', async (_name, init, status) => {
    const started = await serve(trace, () => Readable.from([Buffer.from('abcdef')]));
    server = started.server;
    expect((await fetch(started.url, init)).status).toBe(status);
    await settle();
    expect({ opens: trace.signals.length, closes: trace.closes }).toEqual({ opens: 0, closes: 1 });
  });

  it('aborts the body of a client that went away, and does not count it as a failure', async () => {
    let destroyed = false;
    const slow = () =>
      new Readable({
        read() {
          setTimeout(() => this.push(Buffer.from('a')), 20);
        },
        destroy(err, callback) {
          destroyed = true;
          callback(err);
        },
      });
    const started = await serve(trace, slow);
    server = started.server;
    await new Promise<void>((resolve) => {
      const req = http.get(started.url, (res) => res.once('data', () => (req.destroy(), resolve())));
    });
    await settle();
    expect({ aborted: trace.signals[0]?.aborted, destroyed, outcomes: trace.outcomes }).toEqual({
      aborted: true,
      destroyed: true,
      outcomes: ['sent'],
    });
  });

  it('reports a body that fails to read after the headers were sent', async () => {
    const failing = () =>
      Readable.from(
        (async function* () {
          yield Buffer.from('ab');
          await new Promise((resolve) => setTimeout(resolve, 10));
          throw new Error('EIO');
        })(),
      );
    const started = await serve(trace, failing);
    server = started.server;
    await expect(fetch(started.url).then((res) => res.text())).rejects.toThrow();
    await settle();
    expect(trace.outcomes.map(String)).toEqual(['Error: EIO']);
  });

  it('answers nothing, and releases what was opened, when the client left before the answer', async () => {
    const started = await serve(trace, () => Readable.from([Buffer.from('abcdef')]), 100);
    server = started.server;
    const req = http.get(started.url).on('error', () => undefined);
    setTimeout(() => req.destroy(), 20);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect({ opens: trace.signals.length, closes: trace.closes, outcomes: trace.outcomes }).toEqual({
      opens: 0,
      closes: 1,
      outcomes: ['sent'],
    });
  });
});
