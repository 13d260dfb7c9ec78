import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/**
 * md5 off the event loop. Hashing on the main thread costs ~1.4 s of event-loop time per GiB
 * (PERFORMANCE.md) and halves upload throughput; here each upload is a session on a small pool
 * of worker threads. Chunks are copied once into buffers that travel to the worker and back
 * (transferred, never cloned) and are reused; a session waits when more than `MAX_IN_FLIGHT`
 * bytes are queued, so neither a slow worker nor garbage in its heap piles memory up.
 */

// Plain CommonJS, evaluated in the worker: the same source serves the build and the tests.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const sessions = new Map();
parentPort.on('message', (m) => {
  if (m.op === 'update') {
    let hash = sessions.get(m.id);
    if (!hash) sessions.set(m.id, (hash = createHash('md5')));
    hash.update(new Uint8Array(m.bytes, 0, m.length));
    parentPort.postMessage({ id: m.id, ack: m.length, bytes: m.bytes }, [m.bytes]);
  } else if (m.op === 'digest') {
    const hash = sessions.get(m.id) || createHash('md5');
    sessions.delete(m.id);
    parentPort.postMessage({ id: m.id, digest: hash.digest('hex') });
  } else if (m.op === 'drop') {
    sessions.delete(m.id);
  }
});
`;

const MAX_IN_FLIGHT = 4 * 1024 * 1024;
const MIN_BUFFER = 64 * 1024;

interface Session {
  inFlight: number;
  /** Buffers the worker has handed back, reused for the next chunks: memory stays bounded. */
  free: ArrayBuffer[];
  onDrain?: () => void;
  onDigest?: (digest: string) => void;
  onError: (err: Error) => void;
}

class Md5WorkerPool {
  private readonly workers: Array<{ worker: Worker; sessions: Map<number, Session> } | undefined> = [];
  private nextId = 1;
  private nextWorker = 0;

  constructor(private readonly size: number) {}

  open(onError: (err: Error) => void): Md5Session {
    const slot = this.slot(this.nextWorker++ % this.size);
    const id = this.nextId++;
    const session: Session = { inFlight: 0, free: [], onError };
    slot.sessions.set(id, session);
    return new Md5Session(id, session, slot.worker, () => slot.sessions.delete(id));
  }

  private slot(index: number) {
    const existing = this.workers[index];
    if (existing) return existing;
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    const slot = { worker, sessions: new Map<number, Session>() };
    worker.on('message', (m: { id: number; ack?: number; bytes?: ArrayBuffer; digest?: string }) => {
      const session = slot.sessions.get(m.id);
      if (!session) return;
      if (m.ack !== undefined) {
        session.inFlight -= m.ack;
        if (m.bytes) session.free.push(m.bytes);
        if (session.inFlight <= MAX_IN_FLIGHT / 2 && session.onDrain) {
          const drain = session.onDrain;
          session.onDrain = undefined;
          drain();
        }
      }
      if (m.digest !== undefined) session.onDigest?.(m.digest);
    });
    const fail = (err: Error) => {
      if (this.workers[index] === slot) this.workers[index] = undefined;
      for (const session of slot.sessions.values()) session.onError(err);
      slot.sessions.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`md5 worker exited with code ${code}`)));
    // Idle workers must not keep the process alive (unref after the listeners, which re-ref).
    worker.unref();
    this.workers[index] = slot;
    return slot;
  }
}

/** One hash computed on a worker. */
export class Md5Session {
  constructor(
    private readonly id: number,
    private readonly state: Session,
    private readonly worker: Worker,
    private readonly release: () => void,
  ) {}

  /** Queues `chunk`; calls `ready` at once, or once the worker has caught up. */
  update(chunk: Uint8Array, ready: () => void): void {
    const bytes = this.buffer(chunk.byteLength);
    new Uint8Array(bytes, 0, chunk.byteLength).set(chunk);
    this.state.inFlight += chunk.byteLength;
    this.worker.postMessage({ op: 'update', id: this.id, bytes, length: chunk.byteLength }, [bytes]);
    if (this.state.inFlight <= MAX_IN_FLIGHT) ready();
    else this.state.onDrain = ready;
  }

  /** A returned buffer big enough for `length` bytes, or a new one. */
  private buffer(length: number): ArrayBuffer {
    const free = this.state.free;
    const index = free.findIndex((b) => b.byteLength >= length);
    if (index >= 0) return free.splice(index, 1)[0];
    return new ArrayBuffer(Math.max(length, MIN_BUFFER));
  }

  digest(): Promise<string> {
    return new Promise((resolve) => {
      this.state.onDigest = (digest) => {
        this.release();
        resolve(digest);
      };
      this.worker.postMessage({ op: 'digest', id: this.id });
    });
  }

  drop(): void {
    this.release();
    this.worker.postMessage({ op: 'drop', id: this.id });
  }
}

let pool: Md5WorkerPool | undefined;

/** The process-wide pool: one worker per spare core, at most four. */
export function md5Workers(): Md5WorkerPool {
  pool ??= new Md5WorkerPool(Math.max(1, Math.min(4, availableParallelism() - 1)));
  return pool;
}
