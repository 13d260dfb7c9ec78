import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The layering of `src/storage` (see ARCHITECTURE.md): every folder sits on a floor, and imports
 * only run downwards or within the folder itself: none climbs up, none goes sideways into
 * another folder of the same floor, and no file imports itself round a circle.
 */
const FLOORS: Record<string, number> = {
  errors: 0,
  config: 1,
  options: 2,
  metrics: 2,
  keys: 2,
  drivers: 3,
  registry: 4,
  database: 4,
  ledger: 5,
  serving: 6,
  thumbnails: 7,
  purge: 8,
  records: 9,
  upload: 10,
  signing: 11,
  tus: 11,
  'storage.service.ts': 12,
  jobs: 13,
  health: 13,
  auth: 14,
  http: 15,
  module: 16,
  'index.ts': 17,
};

const ROOT = __dirname;

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sources(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') ? [full] : [];
  });
}

function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const found = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]);
  return found.map((spec) => {
    const base = path.resolve(path.dirname(file), spec);
    return [`${base}.ts`, path.join(base, 'index.ts'), base].find((c) => fs.existsSync(c) && c.endsWith('.ts')) ?? base;
  });
}

const unit = (file: string) => path.relative(ROOT, file).split(path.sep)[0];

describe('architecture of src/storage', () => {
  const files = sources(ROOT);
  const graph = new Map(files.map((f) => [f, importsOf(f).filter((i) => i.startsWith(ROOT))]));

  it('puts every file on a floor', () => {
    const unplaced = [...new Set(files.map(unit))].filter((u) => FLOORS[u] === undefined);
    expect(unplaced).toEqual([]);
  });

  it('imports only downwards (or within the same folder)', () => {
    const upwards: string[] = [];
    for (const [file, targets] of graph) {
      for (const target of targets) {
        const [from, to] = [unit(file), unit(target)];
        if (from !== to && FLOORS[to] >= FLOORS[from]) {
          upwards.push(`${path.relative(ROOT, file)} -> ${path.relative(ROOT, target)}`);
        }
      }
    }
    expect(upwards).toEqual([]);
  });

  it('has no import cycles', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (file: string, trail: string[]) => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        cycles.push([...trail.slice(trail.indexOf(file)), file].map((f) => path.relative(ROOT, f)).join(' -> '));
        return;
      }
      state.set(file, 'open');
      for (const next of graph.get(file) ?? []) visit(next, [...trail, file]);
      state.set(file, 'done');
    };
    for (const file of files) visit(file, []);
    expect(cycles).toEqual([]);
  });
});

/**
 * The file manager page (`src/ui/app`) is browser code bundled on its own: it may import its own
 * files and the browser client (`src/client`), never the service's code.
 */
describe('architecture of the file manager page', () => {
  const PAGE = path.resolve(ROOT, '..', 'ui', 'app');
  const CLIENT = path.resolve(ROOT, '..', 'client');

  it('imports only its own files and the browser client', () => {
    const outside = sources(PAGE).flatMap((file) =>
      importsOf(file)
        .filter((target) => !target.startsWith(PAGE + path.sep) && !target.startsWith(CLIENT))
        .map((target) => `${path.relative(PAGE, file)} -> ${path.relative(PAGE, target)}`),
    );
    expect(outside).toEqual([]);
  });
});

/**
 * `src/client` is browser code beside the library, on no floor: it may take types from
 * `src/storage` (erased at build time) but no value, and nothing from Node.
 */
describe('the browser client (src/client)', () => {
  const CLIENT = path.join(ROOT, '..', 'client');
  const files = sources(CLIENT);

  it('imports only types from src/storage and nothing from Node', () => {
    const refused: string[] = [];
    for (const file of files) {
      const text = fs.readFileSync(file, 'utf8');
      for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^'"]*?from\s*'([^']+)'/gm)) {
        const [, , typeOnly, spec] = m;
        const storage = spec.startsWith('.') && path.resolve(path.dirname(file), spec).startsWith(ROOT);
        if ((storage && !typeOnly) || spec.startsWith('node:') || /^(fs|path|http|https|stream|crypto)$/.test(spec)) {
          refused.push(`${path.relative(CLIENT, file)} -> ${spec}`);
        }
      }
    }
    expect(files.length).toBeGreaterThan(0);
    expect(refused).toEqual([]);
  });

  it('is not imported by the library', () => {
    const importers = sources(ROOT).filter((file) =>
      importsOf(file).some((target) => target.startsWith(CLIENT + path.sep)),
    );
    expect(importers).toEqual([]);
  });
});
