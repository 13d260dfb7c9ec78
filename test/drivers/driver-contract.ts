import { randomBytes, randomUUID } from 'node:crypto';
import { StorageError, StorageErrorCode } from '../../src/storage/errors/storage.error';
import type { ObjectStat, StorageDriver } from '../../src/storage/drivers/storage-driver';
import { freePort } from '../harness/peers/ports';
import {
  bufferStream,
  eventually,
  MIB,
  patternStream,
  randomData,
  readAll,
  sha256Of,
  sendSigned,
  startSilentServer,
} from './contract-support';

/** One backend under test, made fresh for a spec file by its `setup`. */
export interface DriverHarness {
  driver: StorageDriver;
  /**
   * The same type of driver pointed at 127.0.0.1:`port` with `timeoutMs` (the port is closed or
   * held by a server that never answers). Absent for backends that have no network (local disk).
   */
  unreachable?(port: number, timeoutMs: number): Promise<StorageDriver>;
  /** What failed writes left in the backend (temp files, open multipart uploads); [] when clean. */
  leftovers?(): Promise<string[]>;
  /** Credentials the driver holds: no URL or error message may contain them. */
  secrets: string[];
  /** The backend rejects a signed upload sent with another Content-Type than the signed one. */
  enforcesSignedContentType?: boolean;
  /** The backend answers a signed GET with the Content-Disposition signed into it (default true). */
  honoursResponseDisposition?: boolean;
  teardown(): Promise<void>;
}

const BIG_TIMEOUT = 120_000;
const UNREACHABLE_TIMEOUT_MS = 1500;
/** Scheduling slack on top of a driver's `timeoutMs` on a busy 2-core machine. */
const SLACK_MS = 1000;

/**
 * The driver contract (storage-driver.ts), run unchanged against every backend. Keys live under a
 * random prefix per run, so suites can share a bucket and leave nothing that a rerun would see.
 */
/** What a backend offers, known before its peer starts, so that cases it lacks show as skipped. */
export interface DriverFeatures {
  /** Native signed uploads (`signUpload`); default true. Local disk: the service signs its own URLs. */
  signedUploads?: boolean;
  /** Talks to a server that can be down; default true. */
  network?: boolean;
}

export function describeDriverContract(
  name: string,
  setup: () => Promise<DriverHarness>,
  { signedUploads = true, network = true }: DriverFeatures = {},
): void {
  const itSigned = signedUploads ? it : it.skip;
  const itNetwork = network ? it : it.skip;
  describe(`${name} driver contract`, () => {
    let h: DriverHarness;
    let driver: StorageDriver;
    const prefix = `contract-${randomUUID()}/`;
    const k = (key: string) => prefix + key;

    beforeAll(async () => {
      h = await setup();
      driver = h.driver;
    }, 60_000);

    afterAll(async () => {
      await driver?.close?.();
      await h?.teardown();
    }, 60_000);

    async function expectCode(promise: Promise<unknown>, code: StorageErrorCode): Promise<StorageError> {
      const err = await promise.then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StorageError);
      expect((err as StorageError).code).toBe(code);
      return err as StorageError;
    }

    function expectNoSecretIn(text: string): void {
      expect(h.secrets.filter((secret) => text.includes(secret))).toEqual([]);
    }

    async function keysUnder(listPrefix: string): Promise<string[]> {
      const keys: string[] = [];
      for await (const item of driver.list(listPrefix)) keys.push(item.key);
      return keys.sort();
    }

    it('puts, stats, gets, and deletes an object', async () => {
      const key = k('round/trip.txt');
      const before = Date.now();
      const put = await driver.put(key, bufferStream('hello, storage'), { contentType: 'text/plain', size: 14 });
      expect(put).toMatchObject({ key, size: 14 });
      const stat = await driver.stat(key);
      expect(stat.size).toBe(14);
      expect(Math.abs(stat.lastModified.getTime() - before)).toBeLessThan(120_000);
      if (stat.contentType !== undefined) expect(stat.contentType).toBe('text/plain');
      expect((await readAll(await driver.get(key))).toString()).toBe('hello, storage');
      expect(await driver.exists(key)).toBe(true);
      await driver.delete(key);
      expect(await driver.exists(key)).toBe(false);
      await expectCode(driver.stat(key), StorageErrorCode.NOT_FOUND);
    });

    it.each([
      ['0 B', 0],
      ['1 B', 1],
      ['5 MiB + 1', 5 * MIB + 1],
      ['65 MiB', 65 * MIB],
    ])(
      'stores %s streamed in and out byte for byte',
      async (_label, size) => {
        const key = k(`sizes/${size}.bin`);
        const expected = await sha256Of(patternStream(size, { seed: size + 1 }));
        const put = await driver.put(key, patternStream(size, { seed: size + 1 }));
        expect(put.size).toBe(size);
        expect((await driver.stat(key)).size).toBe(size);
        expect(await sha256Of(await driver.get(key))).toEqual(expected);
        await driver.delete(key);
      },
      BIG_TIMEOUT,
    );

    it('reads byte ranges (first byte, last byte, middle, whole, across a MiB boundary)', async () => {
      const key = k('range/data.bin');
      const data = randomData(MIB + 1000);
      await driver.put(key, bufferStream(data));
      const cases: [number, number][] = [
        [0, 0],
        [data.length - 1, data.length - 1],
        [10, 4095],
        [0, data.length - 1],
        [MIB - 10, MIB + 10],
      ];
      for (const [start, end] of cases) {
        const got = await readAll(await driver.get(key, { range: { start, end } }));
        expect({ start, end, equal: got.equals(data.subarray(start, end + 1)) }).toEqual({ start, end, equal: true });
      }
      await driver.delete(key);
    });

    it.each([
      ['nested folders', 'a/b/c/deep.txt'],
      ['spaces', 'with space/file name.txt'],
      ['non-ASCII', 'ünïcødé/文件 名-ж.txt'],
      ['symbols', "symbols/it's (1) [2] ~!%^.txt"],
    ])('handles keys with %s: put, get, stat, list, copy, delete', async (_label, name) => {
      const key = k(`keys/${name}`);
      const copyKey = `${key}.copy`;
      await driver.put(key, bufferStream(name), { contentType: 'text/plain' });
      expect((await readAll(await driver.get(key))).toString()).toBe(name);
      expect((await driver.stat(key)).size).toBe(Buffer.byteLength(name));
      expect(await keysUnder(key)).toEqual([key]);
      await driver.copy(key, copyKey);
      expect((await readAll(await driver.get(copyKey))).toString()).toBe(name);
      expect(await keysUnder(key)).toEqual([key, copyKey]);
      await driver.delete(key);
      await driver.delete(copyKey);
      expect(await keysUnder(key)).toEqual([]);
    });

    it('handles keys with URL-reserved characters (+ = ; @ , $ & # ?): put, get, list, delete', async () => {
      // Not copied: s3rver decodes x-amz-copy-source with decodeURI, which leaves these encoded.
      const key = k('reserved/a+b=c;d@e,f$g&h#i?j.txt');
      await driver.put(key, bufferStream('reserved'));
      expect((await readAll(await driver.get(key))).toString()).toBe('reserved');
      expect(await keysUnder(k('reserved/'))).toEqual([key]);
      await driver.delete(key);
      expect(await driver.exists(key)).toBe(false);
    });

    it('replaces an existing object on put', async () => {
      const key = k('replace/me.txt');
      await driver.put(key, bufferStream('first version'));
      await driver.put(key, bufferStream('second'));
      expect((await readAll(await driver.get(key))).toString()).toBe('second');
      expect((await driver.stat(key)).size).toBe(6);
      await driver.delete(key);
    });

    it('lists exactly the objects under a prefix, with sizes', async () => {
      const base = k('list/');
      const names = ['one.txt', 'two/three.txt', 'two/four.txt'];
      for (const [i, name] of names.entries()) await driver.put(base + name, bufferStream('x'.repeat(i + 1)));
      await driver.put(k('listing-outside.txt'), bufferStream('no'));
      const listed: ObjectStat[] = [];
      for await (const item of driver.list(base)) listed.push(item);
      expect(listed.map((o) => [o.key, o.size]).sort()).toEqual(names.map((n, i) => [base + n, i + 1]).sort());
      // (not `instanceof Date`: SDKs build their Dates in Node's realm, outside Jest's sandbox)
      const isDate = (d: unknown) => Object.prototype.toString.call(d) === '[object Date]';
      expect(listed.filter((o) => !isDate(o.lastModified) || Number.isNaN(o.lastModified.getTime()))).toEqual([]);
      expect(await keysUnder(`${base}two/`)).toEqual([`${base}two/four.txt`, `${base}two/three.txt`]);
      expect(await keysUnder(k('list-nothing-here/'))).toEqual([]);
      for (const name of names) await driver.delete(base + name);
      await driver.delete(k('listing-outside.txt'));
    });

    it('reports a missing key: get, stat and copy reject with E_NOT_FOUND, exists is false', async () => {
      const key = k('missing/nothing.bin');
      await expectCode(driver.get(key), StorageErrorCode.NOT_FOUND);
      await expectCode(driver.get(key, { range: { start: 0, end: 9 } }), StorageErrorCode.NOT_FOUND);
      await expectCode(driver.stat(key), StorageErrorCode.NOT_FOUND);
      await expectCode(driver.copy(key, k('missing/copy.bin')), StorageErrorCode.NOT_FOUND);
      expect(await driver.exists(key)).toBe(false);
      expect(await driver.exists(k('missing/copy.bin'))).toBe(false);
    });

    it('deletes a missing key without an error', async () => {
      await expect(driver.delete(k('missing/never-was.txt'))).resolves.toBeUndefined();
    });

    describe('a put whose body fails', () => {
      it.each([
        ['after 1 KiB', 1024],
        ['after 12 MiB (past the first multipart part)', 12 * MIB],
      ])(
        'fails %s and leaves nothing under the key',
        async (_label, failAt) => {
          const key = k(`failed/${failAt}.bin`);
          const error = new StorageError(StorageErrorCode.MD5_MISMATCH, 'the data does not match the md5');
          await expectCode(driver.put(key, patternStream(20 * MIB, { failAt, error })), StorageErrorCode.MD5_MISMATCH);
          expect(await driver.exists(key)).toBe(false);
          expect(await keysUnder(k('failed/'))).toEqual([]);
          if (h.leftovers) expect(await eventually(async () => (await h.leftovers!()).length === 0)).toBe(true);
        },
        BIG_TIMEOUT,
      );

      it(
        'keeps the previous object when replacing it fails',
        async () => {
          const key = k('failed/replace.bin');
          await driver.put(key, bufferStream('the old content'));
          await expect(driver.put(key, patternStream(12 * MIB, { failAt: 6 * MIB }))).rejects.toBeInstanceOf(
            StorageError,
          );
          expect((await readAll(await driver.get(key))).toString()).toBe('the old content');
          await driver.delete(key);
          if (h.leftovers) expect(await eventually(async () => (await h.leftovers!()).length === 0)).toBe(true);
        },
        BIG_TIMEOUT,
      );

      it(
        'stops with E_ABORTED when the signal aborts, leaving nothing',
        async () => {
          const key = k('failed/aborted.bin');
          const controller = new AbortController();
          const body = patternStream(40 * MIB);
          let sent = 0;
          body.on('data', (chunk: Buffer) => {
            sent += chunk.length;
            if (sent >= 3 * MIB && !controller.signal.aborted) controller.abort();
          });
          await expectCode(driver.put(key, body, { signal: controller.signal }), StorageErrorCode.ABORTED);
          expect(await driver.exists(key)).toBe(false);
          if (h.leftovers) expect(await eventually(async () => (await h.leftovers!()).length === 0)).toBe(true);
        },
        BIG_TIMEOUT,
      );
    });

    itSigned('accepts a signed upload sent with plain fetch, bound to its content type', async () => {
      if (!driver.signUpload) throw new Error('signUpload is missing');
      const key = k('signed/ü pload.txt');
      const before = Date.now();
      const signed = await driver.signUpload(key, { contentType: 'text/plain', expiresIn: 300 });
      // A presigned PUT, or a POST form whose policy binds the size (S3, MinIO).
      expect(['PUT', 'POST']).toContain(signed.method);
      expect(signed.method === 'POST' ? signed.fields?.['Content-Type'] : signed.headers['Content-Type']).toBe(
        'text/plain',
      );
      expect(signed.expiresAt).toBeGreaterThanOrEqual(before + 298_000);
      expect(signed.expiresAt).toBeLessThanOrEqual(Date.now() + 301_000);
      expectNoSecretIn(signed.url);

      if (h.enforcesSignedContentType) {
        const wrong = await sendSigned(signed, '<script>', { contentType: 'text/html' });
        expect(wrong.status).toBe(403);
        expect(await driver.exists(key)).toBe(false);
      }
      const res = await sendSigned(signed, 'signed bytes');
      expect(res.status).toBeGreaterThanOrEqual(200);
      expect(res.status).toBeLessThan(300);
      expect((await readAll(await driver.get(key))).toString()).toBe('signed bytes');
      expect((await driver.stat(key)).contentType).toBe('text/plain');
      await driver.delete(key);
    });

    itSigned('signs a download that plain fetch can GET until expiry, for that key only, named as asked', async () => {
      if (!driver.signDownload) throw new Error('signDownload is missing');
      const key = k('signed-get/ü report.~v1.txt');
      await driver.put(key, bufferStream('signed download bytes'), { contentType: 'text/plain' });
      const before = Date.now();
      const signed = await driver.signDownload(key, { expiresIn: 300, fileName: 'ü report "1".txt' });
      expect(signed).toEqual({ url: expect.any(String), method: 'GET', headers: {}, expiresAt: expect.any(Number) });
      expect(signed.expiresAt).toBeGreaterThanOrEqual(before + 298_000);
      expect(signed.expiresAt).toBeLessThanOrEqual(Date.now() + 301_000);
      expectNoSecretIn(signed.url);
      const res = await fetch(signed.url);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('signed download bytes');
      if (h.honoursResponseDisposition !== false) {
        expect(res.headers.get('content-disposition')).toBe(
          `attachment; filename*=UTF-8''%C3%BC%20report%20%221%22.txt`,
        );
      }
      // Reusable until expiry; another key with the same signature is refused.
      expect((await fetch(signed.url)).status).toBe(200);
      const encodedKey = new URL(signed.url).pathname.split('/').pop() as string;
      const other = signed.url.replace(encodedKey, encodedKey.replace('report', 'r3port'));
      await driver.put(key.replace('report', 'r3port'), bufferStream('another object'));
      const refused = await fetch(other);
      await refused.arrayBuffer();
      expect(refused.status).toBe(403);
      await driver.delete(key);
      await driver.delete(key.replace('report', 'r3port'));
    });

    itSigned('rejects a download expiresIn outside 1 s .. 7 days with E_INVALID_ARGUMENT', async () => {
      if (!driver.signDownload) throw new Error('signDownload is missing');
      for (const expiresIn of [0, 1.5, 8 * 24 * 3600]) {
        await expectCode(driver.signDownload(k('signed/x'), { expiresIn }), StorageErrorCode.INVALID_ARGUMENT);
      }
    });

    itSigned('rejects expiresIn outside 1 s .. 7 days with E_INVALID_ARGUMENT', async () => {
      if (!driver.signUpload) throw new Error('signUpload is missing');
      for (const expiresIn of [0, -5, 1.5, 8 * 24 * 3600]) {
        await expectCode(
          driver.signUpload(k('signed/x'), { contentType: 'text/plain', expiresIn }),
          StorageErrorCode.INVALID_ARGUMENT,
        );
      }
    });

    itSigned('takes a direct multipart upload: parts PUT with plain fetch to signed URLs, then joined', async () => {
      const { beginMultipart, signPart, completeMultipart, abortMultipart, multipartLimits } = driver;
      if (!beginMultipart || !signPart || !completeMultipart || !abortMultipart || !multipartLimits) {
        throw new Error('direct multipart is missing');
      }
      const key = k('direct/ü multi.bin');
      const first = randomBytes(Math.max(multipartLimits.minPartSize, 1000));
      const last = randomBytes(777);
      const uploadId = await beginMultipart.call(driver, key, 'application/x-parts');
      const parts = [];
      for (const [i, data] of [first, last].entries()) {
        const signed = await signPart.call(driver, key, uploadId, i + 1, {
          expiresIn: 300,
          contentType: 'application/x-parts',
        });
        expect(signed.method).toBe('PUT');
        expectNoSecretIn(signed.url);
        const res = await fetch(signed.url, { method: 'PUT', headers: signed.headers, body: data });
        await res.arrayBuffer();
        expect(res.status).toBeGreaterThanOrEqual(200);
        expect(res.status).toBeLessThan(300);
        parts.push({ partNumber: i + 1, etag: res.headers.get('etag') ?? '' });
      }
      // Nothing is visible before the parts are joined.
      expect(await driver.exists(key)).toBe(false);
      await completeMultipart.call(driver, key, uploadId, parts, 'application/x-parts');
      // Compared whole (a diff of megabytes would take jest minutes to print).
      expect((await readAll(await driver.get(key))).equals(Buffer.concat([first, last]))).toBe(true);
      expect((await driver.stat(key)).contentType).toBe('application/x-parts');
      await expectCode(
        signPart.call(driver, key, uploadId, 1, { expiresIn: 8 * 24 * 3600, contentType: 'x/y' }),
        StorageErrorCode.INVALID_ARGUMENT,
      );
      await driver.delete(key);
      // An aborted upload leaves nothing; aborting an unknown one is not an error.
      const dropped = await beginMultipart.call(driver, k('direct/dropped.bin'), 'text/plain');
      await abortMultipart.call(driver, k('direct/dropped.bin'), dropped);
      await abortMultipart.call(driver, k('direct/dropped.bin'), dropped);
      expect(await driver.exists(k('direct/dropped.bin'))).toBe(false);
    });

    it('has no public URL unless one is configured', () => {
      expect(driver.publicUrl(k('a b/c'))).toBeNull();
    });

    describe('a backend that is down', () => {
      itNetwork(
        'rejects every call with E_BACKEND_UNAVAILABLE within timeoutMs (closed port)',
        async () => {
          if (!h.unreachable) throw new Error('the harness has no unreachable()');
          const down = await h.unreachable(await freePort(), UNREACHABLE_TIMEOUT_MS);
          const calls: [string, () => Promise<unknown>][] = [
            ['stat', () => down.stat('k')],
            ['exists', () => down.exists('k')],
            ['get', () => down.get('k')],
            ['delete', () => down.delete('k')],
            ['put', () => down.put('k', bufferStream('x'))],
            ['list', async () => ({ ...(await down.list('p')[Symbol.asyncIterator]().next()) })],
          ];
          for (const [label, call] of calls) {
            const started = Date.now();
            const err = await call().then(
              () => null,
              (e: unknown) => e,
            );
            expect({ label, code: (err as StorageError)?.code }).toEqual({
              label,
              code: StorageErrorCode.BACKEND_UNAVAILABLE,
            });
            expect(Date.now() - started).toBeLessThan(UNREACHABLE_TIMEOUT_MS + SLACK_MS);
            expectNoSecretIn(`${(err as Error).message} ${JSON.stringify((err as StorageError).context)}`);
          }
          await down.close?.();
        },
        30_000,
      );

      itNetwork(
        'rejects with E_BACKEND_UNAVAILABLE within timeoutMs when the server never answers',
        async () => {
          if (!h.unreachable) throw new Error('the harness has no unreachable()');
          const silent = await startSilentServer();
          const down = await h.unreachable(silent.port, UNREACHABLE_TIMEOUT_MS);
          try {
            for (const call of [() => down.stat('k'), () => down.get('k')]) {
              const started = Date.now();
              await expectCode(call(), StorageErrorCode.BACKEND_UNAVAILABLE);
              expect(Date.now() - started).toBeLessThan(UNREACHABLE_TIMEOUT_MS + SLACK_MS);
            }
          } finally {
            await down.close?.();
            await silent.close();
          }
        },
        30_000,
      );
    });
  });
}
