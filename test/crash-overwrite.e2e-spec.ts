import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  childServerEnv,
  compileService,
  killChildServers,
  startChildServer,
  type ChildServer,
  type CompiledService,
} from './harness/child-server';
import { enc, isolatedStorage, md5 } from './harness/lifecycle';
import { etagMd5, rawRequest, type RawResponse } from './harness/raw-http';
import { TOKEN } from './harness/test-app';
import { randomSize, VersionBook } from './harness/versions';

/**
 * Issue 8, crash defects: `kill -9` of the service while paths are being overwritten by plain
 * uploads. The real service runs as a child process on its own DATA_DIR (and, with DB_URL, the
 * shared MySQL database, under a storage instance of this file's own). Each round, one writer
 * per path uploads new random bodies one after another; the server is killed at a random
 * instant (before, during or after uploads and their commits) and started again on the same
 * data. Then, for every path:
 *  - a download is whole and as its headers describe it (md5 = ETag, length = Content-Length),
 *    and it is the last acknowledged version or the one whose upload the kill left unanswered,
 *    never anything else and never 404 once a version was acknowledged;
 *  - a new upload is accepted at once (201, not 409 for a lease a dead process held) and reads back.
 * A path refused that way is replaced by a fresh one for the following rounds, so that every
 * round still overwrites. CRASH_KILLS rounds (default 100).
 */
describe('kill -9 during plain overwrites (issue 8)', () => {
  const KILLS = Number(process.env.CRASH_KILLS ?? 100);
  const TIMEOUT_MS = Math.max(600_000, KILLS * 6_000);
  const PATHS = 4;
  const MIN = 1024;
  const MAX = 1024 * 1024;
  /** The kill lands this long (at most) after the writers start. */
  const KILL_WINDOW_MS = 250;
  const storage = isolatedStorage();
  const prefix = `crash${Math.random().toString(16).slice(2, 10)}`;
  const auth = { Authorization: `Bearer ${TOKEN}` };
  let service: CompiledService | undefined;
  let dataDir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    service = await compileService();
    ({ dataDir, env } = childServerEnv('storage-crash-', storage.config, TOKEN));
  });
  afterAll(async () => {
    await killChildServers();
    service?.remove();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    storage.remove();
  });

  interface Slot {
    path: string;
    generation: number;
    /** md5 of the last version a 201 acknowledged. */
    acked?: string;
    /** md5s of versions sent and never answered (the kill cut them off). */
    unanswered: Set<string>;
  }
  type Violation = 'torn' | 'missing' | 'stale' | 'blocked' | 'refused' | 'readBack' | 'other';

  const book = new VersionBook();
  const stats = { kills: 0, uploads: 0, checked: 0, inFlight: 0, overwriting: 0, servedAcked: 0, servedUnanswered: 0 };
  const violations: Record<Violation, number> = {
    torn: 0,
    missing: 0,
    stale: 0,
    blocked: 0,
    refused: 0,
    readBack: 0,
    other: 0,
  };
  const examples: string[] = [];
  const violation = (kind: Violation, what: string) => {
    violations[kind] += 1;
    if (examples.filter((e) => e.startsWith(`${kind}:`)).length < 2) {
      examples.push(`${kind}: kill ${stats.kills}: ${what}`);
    }
  };

  const start = () => startChildServer(service as CompiledService, { env, logFile: path.join(dataDir, 'server.log') });
  const url = (server: ChildServer, slot: Slot) => `${server.url}/storage/files/${enc(slot.path)}`;
  const get = (server: ChildServer, slot: Slot) => rawRequest(url(server, slot), { headers: auth, timeoutMs: 10_000 });
  const put = (server: ChildServer, slot: Slot, body: Buffer) =>
    rawRequest(url(server, slot), {
      method: 'PUT',
      headers: { ...auth, 'Content-Type': 'application/octet-stream' },
      body,
      timeoutMs: 10_000,
    });

  /** Overwrites `slot` until the server dies; the version the kill cut off stays in `unanswered`. */
  async function writer(server: ChildServer, slot: Slot): Promise<void> {
    for (;;) {
      // Half the time a pause between uploads, so that some kills land between them.
      await pause(Math.random() < 0.5 ? 0 : Math.random() * 40);
      if (server.exited) return;
      const version = book.make(randomSize(MIN, MAX));
      slot.unanswered.add(version.md5);
      const res = await put(server, slot, version.body).catch(() => null);
      if (!res || !res.complete) return;
      slot.unanswered.delete(version.md5);
      stats.uploads += 1;
      if (res.status === 201) {
        slot.acked = version.md5;
        slot.unanswered.clear();
      } else {
        violation('refused', `PUT ${slot.path} before the kill: ${res.status} ${res.body.toString().slice(0, 160)}`);
      }
    }
  }

  /** After a restart: the path serves, whole, a version it may hold; then it takes a new one. */
  async function verify(server: ChildServer, slot: Slot): Promise<void> {
    stats.checked += 1;
    if (slot.unanswered.size > 0) stats.inFlight += 1;
    if (slot.unanswered.size > 0 && slot.acked) stats.overwriting += 1;
    const problem = served(await get(server, slot), slot);
    if (problem) violation(problem.kind, `GET ${slot.path}: ${problem.what}`);
    const version = book.make(randomSize(MIN, MAX));
    const retry = await put(server, slot, version.body);
    if (retry.status !== 201 || !retry.complete) {
      violation('blocked', `retry PUT ${slot.path}: ${retry.status} ${retry.body.toString().slice(0, 160)}`);
      slot.generation += 1;
      slot.path = slot.path.replace(/-\d+\.bin$/, `-${slot.generation}.bin`);
      slot.acked = undefined;
      slot.unanswered.clear();
      return;
    }
    slot.acked = version.md5;
    slot.unanswered.clear();
    const back = await get(server, slot);
    if (back.status !== 200 || !back.body.equals(version.body) || etagMd5(back.headers.etag) !== version.md5) {
      violation('readBack', `GET ${slot.path} after the retry: ${back.status}, ${back.body.length} bytes`);
    }
  }

  /** What is wrong with the download of `slot` after a restart, or null. */
  function served(res: RawResponse, slot: Slot): { kind: Violation; what: string } | null {
    if (res.status === 404) {
      return slot.acked ? { kind: 'missing', what: `404 but "${slot.acked}" was acknowledged` } : null;
    }
    if (res.status !== 200) return { kind: 'other', what: `${res.status} ${res.body.toString().slice(0, 160)}` };
    const etag = etagMd5(res.headers.etag);
    const length = Number(res.headers['content-length']);
    const got = md5(res.body);
    if (!res.complete || res.body.length !== length || got !== etag) {
      const says = `ETag ${res.headers.etag}${etag ? ` (${book.size(etag) ?? '?'} bytes)` : ''}, Content-Length ${length}`;
      return { kind: 'torn', what: `${says} but ${res.body.length} bytes with md5 ${got}` };
    }
    if (got === slot.acked) {
      stats.servedAcked += 1;
      return null;
    }
    if (slot.unanswered.has(got)) {
      stats.servedUnanswered += 1;
      return null;
    }
    const which = book.has(got) ? 'a version neither last acknowledged nor unanswered' : 'bytes never uploaded';
    return { kind: 'stale', what: `${which} (last acknowledged "${slot.acked}")` };
  }

  it(
    `keeps an acknowledged or unanswered version, whole, across ${KILLS} kills`,
    async () => {
      const started = Date.now();
      const slots: Slot[] = Array.from({ length: PATHS }, (_, i) => ({
        path: `${prefix}/crash/p${i}-0.bin`,
        generation: 0,
        unanswered: new Set<string>(),
      }));
      let server = await start();
      while (stats.kills < KILLS) {
        const writing = slots.map((slot) => writer(server, slot));
        await pause(Math.random() * KILL_WINDOW_MS);
        await server.kill();
        stats.kills += 1;
        await Promise.all(writing);
        server = await start();
        for (const slot of slots) await verify(server, slot);
      }
      await server.kill();

      console.log(
        `crash overwrite: ${stats.kills} kills, ${stats.checked} paths checked after restarts ` +
          `(${stats.inFlight} with an upload unanswered at the kill, ${stats.overwriting} of them over an ` +
          `acknowledged version; served whole: ${stats.servedAcked} the acknowledged version, ` +
          `${stats.servedUnanswered} the unanswered one), ${stats.uploads} uploads answered; ` +
          `violations ${JSON.stringify(violations)}; ` +
          `${((Date.now() - started) / 1000).toFixed(1)} s on ${process.env.DB_URL ? 'MySQL' : 'SQLite'}`,
      );
      expect({ violations, examples }).toEqual({
        violations: { torn: 0, missing: 0, stale: 0, blocked: 0, refused: 0, readBack: 0, other: 0 },
        examples: [],
      });
      expect(stats.kills).toBeGreaterThanOrEqual(KILLS);
      expect(stats.inFlight).toBeGreaterThanOrEqual(KILLS / 2);
    },
    TIMEOUT_MS,
  );
});

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
