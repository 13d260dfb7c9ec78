import { createHash, randomUUID } from 'node:crypto';
import fsCallbacks, { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { quoteInput, StorageError, StorageErrorCode } from '../../errors/storage.error';
import { found } from '../shared/backend-errors';
import { publicUrlOf } from '../shared/public-url';
import type { DriverContext, GetOptions, ObjectStat, OpenObject, PutOptions, StorageDriver } from '../storage-driver';
import { closeFd, fsyncFd, LocalOpenObject, openFd, pathOfFdNow, READ_CHUNK } from './local-files';
import { lstatPath, renameFile, unlinkQuietly, writeBody } from './local-write';
import { LOCAL_TYPE, type LocalDriverOptions } from './local.options';

/** Temp files live beside their target so the final rename is atomic; their names start so. */
export const TEMP_PREFIX = '.~tmp.';

/**
 * The part of a temp file's name that names its target key (`.~tmp.{tag}.{uuid}`), so that the
 * reconciler can tell the temp file of an upload still in flight from an abandoned one.
 */
export function tempTag(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

function tempPathFor(dir: string, key: string): string {
  return path.join(dir, `${TEMP_PREFIX}${tempTag(key)}.${randomUUID()}`);
}
/** Held on a body until `writeBody` listens to it; the error itself reaches `writeBody`. */
function ignoreEarlyError(): void {}

/** Opens refuse a symbolic link as the last component (ELOOP); 0 where the platform lacks it. */
const NO_FOLLOW = fsConstants.O_NOFOLLOW ?? 0;
/** Opens refuse anything but a folder (ENOTDIR); 0 where the platform lacks it. */
const DIRECTORY = fsConstants.O_DIRECTORY ?? 0;

/** A put's temp file, created and open, and the key's folder, open to be fsynced after the rename. */
interface CreatedTemp {
  folder: number;
  temp: string;
  fd: number;
  target: string;
}

/**
 * Local disk. Writes go to a temp file in the target folder, are fsynced, then renamed over the
 * key, so a reader never sees a half-written file. Every key is resolved against the root and
 * refused if the result would leave it.
 *
 * Symbolic links below the root are never followed, on any operation: every existing component
 * of a key's path is checked with `lstat` before it is used (a link is `E_ACCESS_DENIED`),
 * files are opened with `O_NOFOLLOW`, and listings skip links. A link planted in the root (a
 * shared volume, a restored archive) can therefore not make the driver read, write or remove
 * anything outside it. The root itself may be a link: it is the operator's choice.
 * Gap: Node has no `openat`, so a component swapped for a link between the check and the use
 * (a race by someone who can already write into the root) is only caught for the last one.
 * Reads check after the open instead, where Linux shows the path of an open descriptor
 * (`/proc/self/fd`): one call instead of an `lstat` per component, and it checks what was opened;
 * only when that path is not the expected one (or there is no `/proc`) are the components checked.
 * Writes do the same with the key's folder, opened (`O_NOFOLLOW`) and checked before the temp
 * file is created in it; a missing folder is made only after the components are checked.
 */
export class LocalDriver implements StorageDriver {
  readonly type = LOCAL_TYPE;
  readonly root: string;
  private realRoot?: string;

  constructor(private readonly options: LocalDriverOptions) {
    this.root = path.resolve(options.root);
  }

  /** Creates the root folder; called once at start-up. */
  async init(): Promise<void> {
    await fs.mkdir(this.root, { recursive: true }).catch((err) => {
      throw mapFsError(err, '(root)');
    });
  }

  /**
   * The body into a temp file beside the key, fsynced on the descriptor it was written through,
   * renamed over the key, then the folder fsynced. The folder is opened first (its descriptor is
   * the one fsynced at the end) and checked by the path the kernel gives it before anything is
   * created in it; it is made only when missing. Seven thread-pool trips for a small body: open
   * the folder, create the temp file and `lstat` the key (side by side), write, fsync, rename,
   * fsync the folder; the stat and both closes are done in place.
   */
  async put(key: string, body: Readable, options: PutOptions = {}): Promise<ObjectStat> {
    // The body may fail while the folder and the temp file are being made, before `writeBody`
    // listens: without a listener that error would be thrown from the emitter. `writeBody` still
    // sees it (the body is then errored) and rejects with it.
    body.on('error', ignoreEarlyError);
    let created: CreatedTemp;
    try {
      created = await this.createTemp(key, this.resolve(key));
    } catch (err) {
      body.off('error', ignoreEarlyError);
      body.destroy();
      throw mapLinkError(err, key);
    }
    const { folder, temp, target } = created;
    let fd: number | null = created.fd;
    try {
      const writing = writeBody(body, fd, options.signal);
      body.off('error', ignoreEarlyError);
      await writing;
      await fsyncFd(fd);
      // Both in place: the inode is in memory, and the data is on disk, so the close flushes nothing.
      const info = fsCallbacks.fstatSync(fd);
      const written = fd;
      fd = null; // released by close even when it fails: never closed twice
      fsCallbacks.closeSync(written);
      await renameFile(temp, target);
      // Some filesystems refuse fsync on a directory; the file itself is already synced.
      await fsyncFd(folder).catch(() => undefined);
      return { key, size: info.size, lastModified: info.mtime };
    } catch (err) {
      body.destroy();
      if (fd !== null) await closeFd(fd);
      await unlinkQuietly(temp);
      throw mapFsError(err, key);
    } finally {
      // Opened read-only: closed in place, as the read path does.
      fsCallbacks.closeSync(folder);
    }
  }

  /**
   * Opens the key's folder (made if missing) and creates a temp file in it, the key checked not
   * to be a link meanwhile. A concurrent delete may prune an emptied folder between the open or
   * the mkdir and the create (or between the levels mkdir makes), so the steps are retried.
   */
  private async createTemp(key: string, target: string): Promise<CreatedTemp> {
    const dir = path.dirname(target);
    for (let attempt = 1; ; attempt++) {
      let folder: number;
      try {
        folder = await this.openFolder(key, dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 5) throw err;
        continue;
      }
      const temp = tempPathFor(dir, key);
      const [opened, refused] = await Promise.all([
        openFd(temp, 'wx', 0o644).catch((err: unknown) => err as NodeJS.ErrnoException),
        this.refuseLink(key, target).then(
          () => null,
          (err: unknown) => err,
        ),
      ]);
      if (typeof opened === 'number' && refused === null) return { folder, temp, fd: opened, target };
      fsCallbacks.closeSync(folder);
      if (typeof opened === 'number') {
        await closeFd(opened);
        await unlinkQuietly(temp);
      }
      if (refused !== null) throw refused;
      if ((opened as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 5) throw opened;
    }
  }

  /**
   * The descriptor of `dir`, a folder of the key, refused if reached through a link (the last
   * level by `O_NOFOLLOW`, the others by the path the kernel names). A missing folder is made,
   * after every existing level of the way is checked, so nothing is made through a link.
   */
  private async openFolder(key: string, dir: string): Promise<number> {
    // The root itself may be a link (the operator's choice): only the levels below it may not.
    const flags = fsConstants.O_RDONLY | DIRECTORY | (dir === this.root ? 0 : NO_FOLLOW);
    let fd: number;
    try {
      fd = await openFd(dir, flags);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // ENOTDIR: a level is a file; what the key then gets (a conflict, not found) is mkdir's answer.
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
      await this.resolveReal(key);
      await fs.mkdir(dir, { recursive: true });
      fd = await openFd(dir, flags);
    }
    try {
      await this.checkOpened(fd, key, dir, 'write');
      return fd;
    } catch (err) {
      fsCallbacks.closeSync(fd);
      throw err;
    }
  }

  /** Rejects with `linkRefused` when the key itself is a link (the rename would replace it). */
  private async refuseLink(key: string, target: string): Promise<void> {
    const info = await lstatPath(target).catch(() => null);
    if (info?.isSymbolicLink()) throw linkRefused(key);
  }

  async get(key: string, options: GetOptions = {}): Promise<Readable> {
    return (await this.open(key)).stream(options.range, options.signal);
  }

  /** `key` opened once: its stat from the descriptor, then its bytes streamed from it. */
  async open(key: string): Promise<OpenObject> {
    const target = this.resolve(key);
    const fd = await openFd(target, fsConstants.O_RDONLY | NO_FOLLOW).catch(async (err: unknown) => {
      await this.resolveReal(key, 'read'); // a link on the way is refused as such, not as "not found"
      throw mapLinkError(err, key, 'read');
    });
    try {
      // Both ask the kernel about a descriptor it holds (an in-memory inode, a /proc link): done
      // here, in microseconds, rather than as two more thread-pool trips per request.
      await this.checkOpened(fd, key, target, 'read');
      const info = fsCallbacks.fstatSync(fd);
      if (!info.isFile()) throw StorageError.notFound(key);
      const stat = { key, size: info.size, lastModified: info.mtime };
      return new LocalOpenObject(fd, target, stat, async (range, signal) =>
        (await this.open(key)).stream(range, signal),
      );
    } catch (err) {
      await closeFd(fd);
      throw mapFsError(err, key, 'read');
    }
  }

  /**
   * Refuses a descriptor opened through a symbolic link below the root: its path as the kernel
   * names it must be the real path of `file` (the key's, or its folder's); when it is not (or
   * cannot be read), the components of the key are checked one by one, as before an open elsewhere.
   */
  private async checkOpened(fd: number, key: string, file: string, access: 'read' | 'write'): Promise<void> {
    const realRoot = await this.realRootPath();
    const opened = pathOfFdNow(fd);
    if (opened !== null && opened === path.join(realRoot, path.relative(this.root, file))) return;
    await this.resolveReal(key, access);
  }

  /** The root's real path, resolved once (the root may itself be a link). */
  private async realRootPath(): Promise<string> {
    this.realRoot ??= await fs.realpath(this.root).catch(() => this.root);
    return this.realRoot;
  }

  async stat(key: string): Promise<ObjectStat> {
    const info = await fs.lstat(await this.resolveReal(key, 'read')).catch((err) => {
      throw mapFsError(err, key, 'read');
    });
    if (info.isSymbolicLink()) throw linkRefused(key);
    if (!info.isFile()) throw StorageError.notFound(key);
    return { key, size: info.size, lastModified: info.mtime };
  }

  async exists(key: string): Promise<boolean> {
    return found(this.stat(key));
  }

  async delete(key: string): Promise<void> {
    const target = await this.resolveReal(key);
    await fs.rm(target, { force: true }).catch((err) => {
      throw mapFsError(err, key);
    });
    await this.pruneEmptyFolders(path.dirname(target));
  }

  async copy(from: string, to: string): Promise<void> {
    const source = await this.resolveReal(from, 'read');
    const target = await this.resolveReal(to);
    const dir = path.dirname(target);
    const temp = tempPathFor(dir, to);
    try {
      // Streamed rather than `copyFile`, which would follow a link swapped in as the source.
      const input = await fs.open(source, fsConstants.O_RDONLY | NO_FOLLOW).catch((err) => {
        throw mapLinkError(err, from, 'read');
      });
      const reader = input.createReadStream({ highWaterMark: READ_CHUNK });
      // The temp file also holds the folder against a concurrent prune while the copy runs.
      const output = await openTemp(dir, temp).catch((err: unknown) => {
        reader.destroy();
        throw err;
      });
      await pipeline(reader, fsCallbacks.createWriteStream(temp, { fd: output, highWaterMark: READ_CHUNK }));
      await fs.rename(temp, target);
    } catch (err) {
      await fs.rm(temp, { force: true }).catch(() => undefined);
      throw mapFsError(err, from);
    }
  }

  async *list(prefix = ''): AsyncIterable<ObjectStat> {
    // Start from the deepest folder the prefix names, then filter by the full prefix.
    const folder = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const start = folder ? await this.resolveReal(folder, 'read') : this.root;
    for await (const key of this.walk(start, folder)) {
      if (!key.startsWith(prefix)) continue;
      const info = await fs.lstat(path.join(this.root, key)).catch(() => null);
      if (info?.isFile()) yield { key, size: info.size, lastModified: info.mtime };
    }
  }

  /**
   * Temp files under the root (writes in flight or abandoned), with their age and `target`: the
   * `tempTag` of the key they are written for (null for names from before tags); for the reconciler.
   */
  async *listTemp(): AsyncIterable<ObjectStat & { target: string | null }> {
    for await (const rel of this.walk(this.root, '', true)) {
      const info = await fs.lstat(path.join(this.root, rel)).catch(() => null);
      const tag = /^([0-9a-f]{16})\./.exec(path.basename(rel).slice(TEMP_PREFIX.length));
      if (info?.isFile()) yield { key: rel, size: info.size, lastModified: info.mtime, target: tag?.[1] ?? null };
    }
  }

  /** The `target` that `listTemp` gives the temp files of writes to `key`. */
  tempTagOf(key: string): string {
    return tempTag(key);
  }

  /** Removes a temp file found by `listTemp`. */
  async deleteTemp(rel: string): Promise<void> {
    if (!path.basename(rel).startsWith(TEMP_PREFIX)) throw StorageError.invalidPath('not a temp file');
    await fs.rm(await this.resolveReal(rel, 'write', true), { force: true });
  }

  publicUrl(key: string): string | null {
    return publicUrlOf(this.options.publicUrl, key);
  }

  private async *walk(dir: string, rel: string, temps = false): AsyncGenerator<string> {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw mapFsError(err, rel, 'read');
    }
    // Dirent types come from lstat: a link is neither a directory nor a file, so it is skipped.
    for (const entry of entries) {
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        yield* this.walk(path.join(dir, entry.name), childRel, temps);
      } else if (entry.isFile() && entry.name.startsWith(TEMP_PREFIX) === temps) {
        yield childRel;
      }
    }
  }

  private async pruneEmptyFolders(dir: string): Promise<void> {
    while (dir !== this.root && dir.startsWith(this.root + path.sep)) {
      try {
        await fs.rmdir(dir);
      } catch {
        return; // not empty, or already gone
      }
      dir = path.dirname(dir);
    }
  }

  /** The absolute path of `key`, refused if it would leave the root or names a temp file. */
  private resolve(key: string, allowTemp = false): string {
    const target = path.resolve(this.root, key);
    if (!target.startsWith(this.root + path.sep)) throw StorageError.invalidPath('the path leaves the storage root');
    if (!allowTemp && path.basename(target).startsWith(TEMP_PREFIX)) {
      throw StorageError.invalidPath(`names starting with '${TEMP_PREFIX}' are reserved`);
    }
    return target;
  }

  /**
   * `resolve`, then every existing component below the root checked not to be a symbolic link
   * (`E_ACCESS_DENIED` if one is); components that do not exist yet are made as real folders.
   * `access`: what the caller is about to do, named by the error when a folder cannot be looked at.
   */
  private async resolveReal(key: string, access: 'read' | 'write' = 'write', allowTemp = false): Promise<string> {
    const target = this.resolve(key, allowTemp);
    let current = this.root;
    for (const segment of path.relative(this.root, target).split(path.sep)) {
      current = path.join(current, segment);
      let info: import('node:fs').Stats;
      try {
        info = await fs.lstat(current);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR') return target;
        throw mapFsError(err, key, access);
      }
      if (info.isSymbolicLink()) throw linkRefused(key);
    }
    return target;
  }
}

/** A key whose path meets a symbolic link below the root: refused, nothing behind it is touched. */
export function linkRefused(key: string): StorageError {
  return new StorageError(
    StorageErrorCode.ACCESS_DENIED,
    `${quoteInput(key)} passes through a symbolic link in the storage folder; links are not followed`,
    { key },
  );
}

/** `mapFsError`, with `ELOOP` from an `O_NOFOLLOW` open (the file is a link) as `linkRefused`. */
function mapLinkError(err: unknown, key: string, access: 'read' | 'write' = 'write'): StorageError {
  return (err as NodeJS.ErrnoException)?.code === 'ELOOP' ? linkRefused(key) : mapFsError(err, key, access);
}

/** The driver for a configured instance, its `root` resolved against `baseDir` (its `init` runs next). */
export function createDriver(options: LocalDriverOptions, context: DriverContext): LocalDriver {
  return new LocalDriver({ ...options, root: path.resolve(context.baseDir, options.root) });
}

/**
 * Creates the temp file (and its folders). A concurrent delete may prune an emptied folder
 * between the mkdir and the open (or between the levels mkdir makes), so the pair is retried.
 */
async function openTemp(dir: string, temp: string): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      // mkdir itself can fail with ENOENT when a level it just made is pruned under it.
      await fs.mkdir(dir, { recursive: true });
      return await openFd(temp, 'wx', 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 5) throw err;
    }
  }
}

/**
 * Maps filesystem errors onto our codes; messages name the key, never the local path, and say
 * whether reading or writing failed (`access`: what the failing call was doing).
 */
export function mapFsError(err: unknown, key: string, access: 'read' | 'write' = 'write'): StorageError {
  if (err instanceof StorageError) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return new StorageError(StorageErrorCode.NOT_FOUND, `file ${quoteInput(key)} not found`, { key }, { cause: err });
    case 'EISDIR':
    case 'EEXIST':
    case 'ENOTEMPTY':
      return new StorageError(
        StorageErrorCode.CONFLICT,
        `${quoteInput(key)} conflicts with a folder of the same name`,
        { key },
        { cause: err },
      );
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      // The service's own folder refuses it: a fault of the server, not of the caller's rights.
      return new StorageError(
        StorageErrorCode.BACKEND_UNAVAILABLE,
        access === 'read'
          ? 'the storage folder could not be read; check the permissions of the storage root'
          : 'the storage folder is not writable; check the permissions of the storage root',
        { key, access },
        { cause: err },
      );
    case 'ENOSPC':
    case 'EDQUOT':
      return new StorageError(
        StorageErrorCode.INSUFFICIENT_STORAGE,
        'the storage disk is full',
        { key },
        { cause: err },
      );
    case 'EIO':
      return new StorageError(
        StorageErrorCode.BACKEND_UNAVAILABLE,
        access === 'read' ? 'the storage disk could not be read' : 'the storage disk could not be written',
        { key, access },
        { cause: err },
      );
    case 'ENAMETOOLONG':
      return StorageError.invalidPath('the path is too long for this storage');
    case 'ABORT_ERR':
      return new StorageError(StorageErrorCode.ABORTED, 'the upload was aborted', { key }, { cause: err });
    default:
      return new StorageError(StorageErrorCode.INTERNAL, 'local storage failed', { key }, { cause: err });
  }
}
