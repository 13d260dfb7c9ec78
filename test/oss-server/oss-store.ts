import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface StoredObject {
  key: string;
  size: number;
  /** Quoted upper-case hex, as OSS answers it. */
  etag: string;
  contentType: string;
  lastModified: string;
  type: 'Normal' | 'Multipart';
}

export class OssStoreError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Objects on disk for the test OSS server: per bucket, each object is a data file and a JSON
 * record named by the SHA-256 of its key. Writes stream into `tmp/` and are renamed into place
 * only once the whole body has arrived, so an aborted request leaves nothing behind.
 */
export class OssStore {
  constructor(readonly root: string) {}

  async createBucket(bucket: string): Promise<void> {
    await fs.mkdir(path.join(this.root, bucket, 'objects'), { recursive: true });
    await fs.mkdir(path.join(this.root, bucket, 'uploads'), { recursive: true });
    await fs.mkdir(path.join(this.root, 'tmp'), { recursive: true });
  }

  async hasBucket(bucket: string): Promise<boolean> {
    return fs.stat(path.join(this.root, bucket, 'objects')).then(
      () => true,
      () => false,
    );
  }

  /** Streams `body` to a temp file; resolves with its path, size and MD5. */
  async receive(body: Readable): Promise<{ file: string; size: number; md5: Buffer }> {
    const file = path.join(this.root, 'tmp', randomUUID());
    const hash = createHash('md5');
    let size = 0;
    const meter = new PassThrough();
    meter.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      size += chunk.length;
    });
    try {
      await pipeline(body, meter, createWriteStream(file));
    } catch (err) {
      await fs.rm(file, { force: true });
      throw err;
    }
    return { file, size, md5: hash.digest() };
  }

  async discard(file: string): Promise<void> {
    await fs.rm(file, { force: true });
  }

  /** Moves a received temp file into place under `key`. */
  async commit(bucket: string, record: StoredObject, file: string): Promise<void> {
    const base = this.objectPath(bucket, record.key);
    await fs.rename(file, base);
    const meta = `${file}.json`;
    await fs.writeFile(meta, JSON.stringify(record));
    await fs.rename(meta, `${base}.json`);
  }

  async head(bucket: string, key: string): Promise<StoredObject> {
    try {
      return JSON.parse(await fs.readFile(`${this.objectPath(bucket, key)}.json`, 'utf8')) as StoredObject;
    } catch {
      throw new OssStoreError(404, 'NoSuchKey', 'The specified key does not exist.');
    }
  }

  read(bucket: string, key: string, start?: number, end?: number): Readable {
    return createReadStream(this.objectPath(bucket, key), { start, end, highWaterMark: 1024 * 1024 });
  }

  async remove(bucket: string, key: string): Promise<void> {
    const base = this.objectPath(bucket, key);
    await fs.rm(`${base}.json`, { force: true });
    await fs.rm(base, { force: true });
  }

  async copy(bucket: string, from: string, to: string): Promise<StoredObject> {
    const source = await this.head(bucket, from);
    const temp = path.join(this.root, 'tmp', randomUUID());
    await fs.copyFile(this.objectPath(bucket, from), temp);
    const record = { ...source, key: to, lastModified: new Date().toUTCString() };
    await this.commit(bucket, record, temp);
    return record;
  }

  async list(bucket: string): Promise<StoredObject[]> {
    const dir = path.join(this.root, bucket, 'objects');
    const names = (await fs.readdir(dir)).filter((name) => name.endsWith('.json'));
    const records = await Promise.all(
      names.map(async (name) => JSON.parse(await fs.readFile(path.join(dir, name), 'utf8')) as StoredObject),
    );
    return records.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async initiateUpload(bucket: string, key: string, contentType: string): Promise<string> {
    const uploadId = randomUUID().replace(/-/g, '').toUpperCase();
    const dir = path.join(this.root, bucket, 'uploads', uploadId);
    await fs.mkdir(dir);
    const initiated = new Date().toISOString();
    await fs.writeFile(path.join(dir, 'upload.json'), JSON.stringify({ key, contentType, initiated }));
    return uploadId;
  }

  /** Multipart uploads neither completed nor aborted, by key then upload id. */
  async openUploads(bucket: string): Promise<OpenUpload[]> {
    const dir = path.join(this.root, bucket, 'uploads');
    const uploads: OpenUpload[] = [];
    for (const uploadId of await fs.readdir(dir).catch(() => [])) {
      const info = await fs.readFile(path.join(dir, uploadId, 'upload.json'), 'utf8').catch(() => null);
      if (info === null) continue;
      const { key, initiated } = JSON.parse(info) as { key: string; initiated: string };
      uploads.push({ key, uploadId, initiated });
    }
    return uploads.sort((a, b) => compare(a.key, b.key) || compare(a.uploadId, b.uploadId));
  }

  async upload(bucket: string, key: string, uploadId: string): Promise<{ dir: string; contentType: string }> {
    const dir = path.join(this.root, bucket, 'uploads', uploadId);
    try {
      const info = JSON.parse(await fs.readFile(path.join(dir, 'upload.json'), 'utf8')) as {
        key: string;
        contentType: string;
      };
      if (info.key === key) return { dir, contentType: info.contentType };
    } catch {
      // fall through to NoSuchUpload
    }
    throw new OssStoreError(404, 'NoSuchUpload', 'The specified upload does not exist.');
  }

  async putPart(dir: string, partNumber: number, file: string, md5: Buffer): Promise<void> {
    await fs.rename(file, path.join(dir, `part-${partNumber}`));
    await fs.writeFile(path.join(dir, `part-${partNumber}.md5`), md5);
  }

  /** Concatenates the listed parts (checked against their ETags) into the object. */
  async completeUpload(
    bucket: string,
    key: string,
    uploadId: string,
    parts: { partNumber: number; etag: string }[],
  ): Promise<StoredObject> {
    const { dir, contentType } = await this.upload(bucket, key, uploadId);
    const digests: Buffer[] = [];
    const files: string[] = [];
    for (const [index, part] of parts.entries()) {
      const md5 = await fs.readFile(path.join(dir, `part-${part.partNumber}.md5`)).catch(() => null);
      if (!md5 || quoteEtag(md5.toString('hex')) !== quoteEtag(part.etag.replace(/"/g, ''))) {
        throw new OssStoreError(400, 'InvalidPart', `part ${part.partNumber} was not uploaded or its ETag differs`);
      }
      if (index > 0 && parts[index - 1].partNumber >= part.partNumber) {
        throw new OssStoreError(400, 'InvalidPartOrder', 'parts must be listed in ascending order');
      }
      const size = (await fs.stat(path.join(dir, `part-${part.partNumber}`))).size;
      if (index < parts.length - 1 && size < 100 * 1024) {
        throw new OssStoreError(400, 'EntityTooSmall', 'every part but the last must be at least 100 KB');
      }
      digests.push(md5);
      files.push(path.join(dir, `part-${part.partNumber}`));
    }
    const temp = path.join(this.root, 'tmp', randomUUID());
    const out = createWriteStream(temp);
    let size = 0;
    for (const file of files) {
      size += (await fs.stat(file)).size;
      await pipeline(createReadStream(file), out, { end: false });
    }
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    const etag = quoteEtag(`${createHash('md5').update(Buffer.concat(digests)).digest('hex')}-${parts.length}`);
    const record: StoredObject = {
      key,
      size,
      etag,
      contentType,
      lastModified: new Date().toUTCString(),
      type: 'Multipart',
    };
    await this.commit(bucket, record, temp);
    await fs.rm(dir, { recursive: true, force: true });
    return record;
  }

  async abortUpload(bucket: string, key: string, uploadId: string): Promise<void> {
    const { dir } = await this.upload(bucket, key, uploadId);
    await fs.rm(dir, { recursive: true, force: true });
  }

  /** Multipart uploads neither completed nor aborted, and temp files: what a failed write left. */
  async leftovers(bucket: string): Promise<string[]> {
    const uploads = await fs.readdir(path.join(this.root, bucket, 'uploads')).catch(() => []);
    const temps = await fs.readdir(path.join(this.root, 'tmp')).catch(() => []);
    return [...uploads.map((id) => `upload:${id}`), ...temps.map((name) => `tmp:${name}`)];
  }

  private objectPath(bucket: string, key: string): string {
    return path.join(this.root, bucket, 'objects', createHash('sha256').update(key).digest('hex'));
  }
}

export interface OpenUpload {
  key: string;
  uploadId: string;
  /** ISO 8601. */
  initiated: string;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function quoteEtag(hex: string): string {
  return `"${hex.toUpperCase()}"`;
}
