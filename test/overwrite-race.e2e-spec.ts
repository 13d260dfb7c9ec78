import type { AddressInfo } from 'node:net';
import { enc, isolatedStorage, md5 } from './harness/lifecycle';
import { etagMd5, rawRequest, type RawResponse } from './harness/raw-http';
import { createTestApp, type TestApp } from './harness/test-app';
import { randomSize, VersionBook } from './harness/versions';

/**
 * Issue 8, first defect: a download racing a plain overwrite of its path must still be one
 * version, whole, as its headers describe it. One writer per path overwrites it with new random
 * bodies (1 KiB to 2 MiB, so reads take a while) for RACE_SECONDS; many readers download the
 * same paths meanwhile, whole and by byte range, and every answer is checked against the
 * versions uploaded (md5 → body):
 *  - 200: md5(body) is the ETag's md5, a version uploaded to that path, and the body has
 *    `Content-Length` bytes;
 *  - 206: `Content-Range` is the range asked for, clipped to the size of the ETag's version,
 *    and the body is exactly that slice of it;
 *  - 416: the size `Content-Range` names is that of a version of the path and below the start;
 *  - 404 only for a download sent before the path's first upload was acknowledged.
 * Writers tolerate 409 (today two plain uploads of a key exclude each other; once objects are
 * immutable they will not), but each path has one writer, so uploads of a path barely overlap.
 */
describe('downloads racing plain overwrites (issue 8)', () => {
  const RACE_MS = Number(process.env.RACE_SECONDS ?? 10) * 1000;
  const PATHS = 4;
  const READERS = 12;
  const MIN = 1024;
  const MAX = 2 * 1024 * 1024;
  const storage = isolatedStorage();
  let t: TestApp;
  let base: string;

  beforeAll(async () => {
    t = await createTestApp({ config: storage.config });
    base = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await t?.close();
    storage.remove();
  });

  it(`serves each download as one whole uploaded version while the path is overwritten`, async () => {
    const book = new VersionBook();
    const paths = Array.from({ length: PATHS }, (_, i) => `${t.prefix}/race/file-${i}.bin`);
    const uploaded = paths.map(() => new Set<string>());
    const firstAck: Array<number | undefined> = paths.map(() => undefined);
    const stats = {
      uploads: 0,
      refused: 0,
      full: 0,
      ranged: 0,
      badWhole: 0,
      badRanged: 0,
      unsatisfiable: 0,
      notFound: 0,
    };
    const mismatches: string[] = [];
    const auth = { Authorization: t.auth };
    const started = Date.now();
    const deadline = started + RACE_MS;

    const writer = async (i: number) => {
      while (Date.now() < deadline) {
        const version = book.make(randomSize(MIN, MAX));
        uploaded[i].add(version.md5);
        const res = await rawRequest(`${base}/storage/files/${enc(paths[i])}`, {
          method: 'PUT',
          headers: { ...auth, 'Content-Type': 'application/octet-stream' },
          body: version.body,
        });
        if (res.status === 201) {
          stats.uploads += 1;
          firstAck[i] ??= Date.now();
          const record = JSON.parse(res.body.toString()) as { md5: string; size: number };
          if (record.md5 !== version.md5 || record.size !== version.body.length) {
            mismatches.push(`PUT ${paths[i]}: record says ${record.md5}/${record.size}, sent ${version.md5}`);
          }
        } else if (res.status === 409) {
          stats.refused += 1;
        } else {
          mismatches.push(`PUT ${paths[i]}: ${res.status} ${res.body.toString().slice(0, 200)}`);
        }
        await pause(Math.random() * 5);
      }
    };

    const reader = async () => {
      while (Date.now() < deadline) {
        const i = Math.floor(Math.random() * PATHS);
        const range = Math.random() < 0.5 ? randomRange() : null;
        const sentAt = Date.now();
        const res = await rawRequest(`${base}/storage/files/${enc(paths[i])}`, {
          headers: range ? { ...auth, Range: `bytes=${range.start}-${range.end}` } : auth,
        });
        const problem = check(i, res, range, sentAt);
        if (!problem) continue;
        stats[range ? 'badRanged' : 'badWhole'] += 1;
        mismatches.push(`GET ${paths[i]}${range ? ` bytes=${range.start}-${range.end}` : ''}: ${problem}`);
      }
    };

    const randomRange = () => {
      const start = Math.floor(Math.random() * (Math.random() < 0.75 ? MIN : MAX));
      return { start, end: start + randomSize(1, MAX) };
    };

    /** What is wrong with a download's answer, or null when it is one whole version. */
    const check = (
      i: number,
      res: RawResponse,
      range: { start: number; end: number } | null,
      sentAt: number,
    ): string | null => {
      if (res.status === 404) {
        stats.notFound += 1;
        const acked = firstAck[i];
        return acked !== undefined && acked < sentAt ? 'not found after the first upload was acknowledged' : null;
      }
      const etag = etagMd5(res.headers.etag);
      const length = Number(res.headers['content-length']);
      const contentRange = res.headers['content-range'] ?? '';
      if (res.status === 416) {
        stats.unsatisfiable += 1;
        const size = Number(/^bytes \*\/(\d+)$/.exec(contentRange)?.[1]);
        const sizes = [...uploaded[i]].map((h) => book.size(h));
        return range && size <= range.start && sizes.includes(size) ? null : `416 with Content-Range '${contentRange}'`;
      }
      if (res.status !== 200 && res.status !== 206) return `status ${res.status} ${res.body.toString().slice(0, 200)}`;
      if (res.status === 200) stats.full += 1;
      else stats.ranged += 1;
      const got = `${res.body.length} bytes (md5 ${md5(res.body)}${res.complete ? '' : ', cut short'})`;
      if (!etag || !uploaded[i].has(etag)) return `ETag ${res.headers.etag} is no version uploaded to the path`;
      if (!res.complete || res.body.length !== length) return `Content-Length ${length} but ${got}`;
      if (res.status === 200) {
        return md5(res.body) === etag ? null : `ETag "${etag}" (${book.size(etag)} bytes) but ${got}`;
      }
      const version = book.body(etag) as Buffer;
      if (!range) return `206 to a request without Range`;
      const expected = `bytes ${range.start}-${Math.min(range.end, version.length - 1)}/${version.length}`;
      if (contentRange !== expected) return `Content-Range '${contentRange}', the ETag's version gives '${expected}'`;
      const slice = version.subarray(range.start, range.end + 1);
      return res.body.equals(slice) ? null : `${contentRange} of "${etag}" but ${got}, not that slice`;
    };

    await Promise.all([...paths.map((_, i) => writer(i)), ...Array.from({ length: READERS }, reader)]);

    const checked = stats.full + stats.ranged;
    console.log(
      `overwrite race: ${checked} downloads checked (${stats.full} whole, ${stats.ranged} ranged), ` +
        `${mismatches.length} mismatched (${stats.badWhole} whole, ${stats.badRanged} ranged); ` +
        `${stats.uploads} overwrites (${stats.refused} refused as conflicts), ` +
        `${stats.unsatisfiable} unsatisfiable ranges, ${stats.notFound} not found; ` +
        `${((Date.now() - started) / 1000).toFixed(1)} s on ${process.env.DB_URL ? 'MySQL' : 'SQLite'}`,
    );
    expect({ mismatched: mismatches.length, first: mismatches.slice(0, 5) }).toEqual({ mismatched: 0, first: [] });
    expect(stats.uploads).toBeGreaterThanOrEqual(10 * PATHS);
    expect(stats.full).toBeGreaterThanOrEqual(100);
    expect(stats.ranged).toBeGreaterThanOrEqual(100);
  }, 120_000);
});

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
