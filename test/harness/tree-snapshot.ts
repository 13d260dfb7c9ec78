import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Every entry under `dir` (not following links) with its kind, size, mtime and content hash:
 * two equal snapshots mean nothing there was created, changed, touched or removed. `skip`: names
 * of top-level entries to leave out.
 */
export function snapshotTree(dir: string, skip: string[] = []): string[] {
  const out: string[] = [];
  const visit = (current: string, rel: string) => {
    for (const name of fs.readdirSync(current).sort()) {
      if (rel === '' && skip.includes(name)) continue;
      const full = path.join(current, name);
      const childRel = rel ? `${rel}/${name}` : name;
      const info = fs.lstatSync(full);
      if (info.isDirectory()) {
        out.push(`${childRel}/ ${info.mtimeMs}`);
        visit(full, childRel);
      } else if (info.isSymbolicLink()) {
        out.push(`${childRel} -> ${fs.readlinkSync(full)}`);
      } else {
        const hash = createHash('sha256').update(fs.readFileSync(full)).digest('hex');
        out.push(`${childRel} ${info.size} ${info.mtimeMs} ${hash}`);
      }
    }
  };
  visit(dir, '');
  return out;
}
