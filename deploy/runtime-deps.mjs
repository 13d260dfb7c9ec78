// Prepares a throwaway copy of package.json so that `npm ci --omit=dev` installs everything the
// standalone app (dist/main.js) needs at run time, at the exact versions in package-lock.json.
//
// Why: the package is a Nest library; Nest, TypeORM, the cloud SDKs and sharp are its (optional)
// peer dependencies and, like the database drivers, also devDependencies, so a plain
// `npm ci --omit=dev` (or `npm prune --omit=dev`) would leave the app without them. This moves
// into `dependencies`, pinned to the lock file's version:
//   - every peer dependency (the standalone app is the host that provides them),
//   - every package the built code imports (scanned from dist/**/*.js),
//   - the packages dependencies load by name at run time (TypeORM's database drivers).
// npm then resolves the tree from the lock file as usual: `npm ci` refuses a lock file that does
// not satisfy package.json, so nothing is resolved afresh. Lifecycle scripts of the package
// itself are dropped from the copy (its `prepare`/`prepack` build needs dev tools).
//
// Usage, in a folder holding package.json, package-lock.json and dist/:
//   node runtime-deps.mjs && npm ci --omit=dev
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** Loaded by name by a dependency, never imported by dist/: TypeORM's MySQL/MariaDB and SQLite drivers. */
export const LOADED_BY_NAME = ['mysql2', 'better-sqlite3'];

/** Bare package names that the JavaScript files under `dir` require or import. */
export function importsOf(dir) {
  const names = new Set();
  const pattern = /(?:\brequire\(\s*|\bimport\(\s*|\bfrom\s*)["']([^"'./][^"']*)["']/g;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !/\.(c|m)?js$/.test(entry.name)) continue;
    const text = readFileSync(path.join(entry.parentPath ?? entry.path, entry.name), 'utf8');
    for (const [, specifier] of text.matchAll(pattern)) {
      if (specifier.startsWith('node:') || builtinModules.includes(specifier.split('/')[0])) continue;
      const parts = specifier.split('/');
      names.add(specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]);
    }
  }
  return names;
}

/**
 * `pkg` with the run-time packages in `dependencies` at their `lock` versions, and no scripts.
 * Throws naming any needed package that the lock file does not hold at the top level.
 */
export function runtimePackageJson(pkg, lock, imported) {
  const needed = new Set([...Object.keys(pkg.peerDependencies ?? {}), ...LOADED_BY_NAME, ...imported]);
  const out = { ...pkg, dependencies: { ...pkg.dependencies }, devDependencies: { ...pkg.devDependencies } };
  delete out.scripts;
  const missing = [];
  for (const name of [...needed].sort()) {
    if (name in (pkg.dependencies ?? {})) continue;
    const version = lock.packages?.[`node_modules/${name}`]?.version;
    if (!version) {
      missing.push(name);
      continue;
    }
    out.dependencies[name] = version;
    delete out.devDependencies[name];
  }
  if (missing.length) {
    throw new Error(`needed at run time but not in package-lock.json: ${missing.join(', ')}`);
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
  const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
  const out = runtimePackageJson(pkg, lock, importsOf('dist'));
  writeFileSync('package.json', `${JSON.stringify(out, null, 2)}\n`);
  const added = Object.keys(out.dependencies).filter((name) => !(name in (pkg.dependencies ?? {})));
  console.log(
    `run-time packages added from the lock file: ${added.map((n) => `${n}@${out.dependencies[n]}`).join(' ')}`,
  );
}
