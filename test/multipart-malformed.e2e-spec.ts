import { Logger } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import { rawRequest } from './harness/raw-http';
import { createTestApp, listFiles, type TestApp } from './harness/test-app';
import { isolatedStorage } from './harness/lifecycle';
import { eventually } from './harness/util';

/**
 * Malformed multipart bodies, as a hostile or broken client sends them: each is a 400
 * `E_INVALID_ARGUMENT`, is logged as one warning line (no stack, nothing at error level), and
 * stores nothing.
 */
describe('malformed multipart bodies', () => {
  // An instance of its own: on a shared MariaDB, its listing holds only this spec's records.
  const storage = isolatedStorage();
  let t: TestApp;
  let url: string;

  beforeAll(async () => {
    t = await createTestApp({ config: storage.config });
    url = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}/storage/files`;
  });
  afterAll(async () => {
    await t.close();
    storage.remove();
  });

  const B = 'XyZboundary42';
  const part = (headers: string, body: string) => `--${B}\r\n${headers}\r\n\r\n${body}\r\n`;
  const field = (name: string, value: string) => part(`Content-Disposition: form-data; name="${name}"`, value);
  const file = (body: string) =>
    part('Content-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain', body);
  const end = `--${B}--\r\n`;

  const cases: [string, string, string][] = [
    [
      'a bad part header (no colon)',
      `multipart/form-data; boundary=${B}`,
      `--${B}\r\nthis is not a header\r\n\r\nx\r\n${end}`,
    ],
    ['no closing boundary', `multipart/form-data; boundary=${B}`, `${field('name', 'x/none.txt')}${file('hello')}`],
    [
      'a truncated body (ends inside the file part)',
      `multipart/form-data; boundary=${B}`,
      `--${B}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nhel`,
    ],
    [
      'an unterminated header block',
      `multipart/form-data; boundary=${B}`,
      `--${B}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain`,
    ],
    ['a missing boundary parameter', 'multipart/form-data', `${file('hello')}${end}`],
    ['an empty boundary parameter', 'multipart/form-data; boundary=', `${file('hello')}${end}`],
    [
      'a part with no name',
      `multipart/form-data; boundary=${B}`,
      `${part('Content-Disposition: form-data; filename="a.txt"', 'hello')}${end}`,
    ],
    [
      'a field with no name',
      `multipart/form-data; boundary=${B}`,
      `${part('Content-Disposition: form-data', 'x')}${file('hello')}${end}`,
    ],
    ['a body of garbage', `multipart/form-data; boundary=${B}`, 'garbage garbage garbage'],
    ['an empty body', `multipart/form-data; boundary=${B}`, ''],
    [
      'an over-long header line',
      `multipart/form-data; boundary=${B}`,
      `--${B}\r\nX-Long: ${'a'.repeat(100_000)}\r\n\r\nx\r\n${end}`,
    ],
  ];

  it.each(cases)('%s: 400 E_INVALID_ARGUMENT, one warning line, nothing stored', async (_label, type, body) => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const error = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    try {
      const res = await rawRequest(url, {
        method: 'POST',
        headers: { Authorization: t.auth, 'Content-Type': type },
        body: Buffer.from(body),
      });
      expect({ status: res.status, code: JSON.parse(res.body.toString()).code }).toEqual({
        status: 400,
        code: 'E_INVALID_ARGUMENT',
      });
      expect(error.mock.calls).toEqual([]);
      expect(warn.mock.calls.length === 1 ? [] : [res.body.toString(), warn.mock.calls]).toEqual([]);
      const line = String(warn.mock.calls[0][0]);
      expect(line).not.toContain('\n');
      expect(line).toMatch(/multipart/);
    } finally {
      warn.mockRestore();
      error.mockRestore();
    }
    // Multer answers as soon as the parser fails; the engine's write ends (and cleans up) just after.
    await eventually(() => listFiles(storage.root).length === 0);
    expect(listFiles(storage.root)).toEqual([]);
    const list = await t.http.get('/storage/files').set('Authorization', t.auth).expect(200);
    expect(list.body.items).toEqual([]);
  });

  it.each([
    [
      'failed with an error',
      'cut-errored/x.txt',
      (body: PassThrough) => body.destroy(new Error('Unexpected end of form')),
    ],
    ['destroyed without an error', 'cut-destroyed/x.txt', (body: PassThrough) => body.destroy()],
  ])(
    'an upload whose body %s before the upload started is E_ABORTED, not a wait for ever',
    async (_label, key, cut) => {
      const body = new PassThrough();
      body.on('error', () => undefined);
      cut(body);
      const outcome = await t.service.uploadStream({ file: key, body }).then(
        () => 'stored',
        (err: { code?: string }) => err.code,
      );
      expect(outcome).toBe('E_ABORTED');
      const stem = key.slice(0, key.indexOf('/') + 1);
      const left = () => listFiles(storage.root).filter((f) => f.startsWith(stem));
      await eventually(() => left().length === 0);
      expect(left()).toEqual([]);
      // The key is free again: its pin was released.
      await t.http.put(`/storage/files/${key}`).set('Authorization', t.auth).send('ok').expect(201);
    },
  );
});
