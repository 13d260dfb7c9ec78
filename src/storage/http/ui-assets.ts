import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';

/** One static file of the file manager page, held in memory (the whole page is some 100 KB). */
export interface UiAsset {
  body: Buffer;
  /** The same bytes gzipped once (the script shrinks to about a third). */
  gzipped: Buffer;
  type: string;
  etag: string;
}

/** The page's files by name: `index.html`, `app.js`, `app.css`. */
export type UiAssetSet = ReadonlyMap<string, UiAsset>;

const TYPES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};
const STATIC_FILES = ['index.html', 'app.css'];

/**
 * This file sits three folders below the package root both as source (`src/storage/http`) and
 * compiled (`dist/storage/http`), so both find the built page in `dist/ui` and its sources in
 * `src/ui/app` the same way.
 */
const PACKAGE_ROOT = path.resolve(__dirname, '..', '..', '..');
export const BUILT_UI_DIR = path.join(PACKAGE_ROOT, 'dist', 'ui');
const SOURCE_UI_DIR = path.join(PACKAGE_ROOT, 'src', 'ui', 'app');
const RUNNING_FROM_SOURCE = __filename.endsWith('.ts');

/**
 * The page as built by `npm run build` (`dist/ui`, what the packed library ships); running from
 * source (tests, `ts-node`) or after `nest start` emptied `dist`, it is bundled from `src/ui/app`
 * in memory with esbuild (a development dependency: some 100 ms, once per process). Undefined
 * when neither is there: the page then answers 404 and says how to build it.
 */
export function loadUiAssets(): Promise<UiAssetSet | undefined> {
  loading ??= chooseUiAssets();
  return loading;
}
let loading: Promise<UiAssetSet | undefined> | undefined;

async function chooseUiAssets(): Promise<UiAssetSet | undefined> {
  const built = existsSync(path.join(BUILT_UI_DIR, 'app.js'));
  const source = existsSync(path.join(SOURCE_UI_DIR, 'main.ts'));
  if (built && !(RUNNING_FROM_SOURCE && source)) return readBuiltAssets();
  if (source && esbuildInstalled()) return assetSet(await bundleUi());
  return built ? readBuiltAssets() : undefined;
}

async function readBuiltAssets(): Promise<UiAssetSet> {
  const files = await Promise.all(
    Object.keys(TYPES).map(async (name) => [name, await readFile(path.join(BUILT_UI_DIR, name))] as const),
  );
  return assetSet(new Map(files));
}

function assetSet(files: ReadonlyMap<string, Buffer>): UiAssetSet {
  const set = new Map<string, UiAsset>();
  for (const [name, body] of files) {
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
    set.set(name, { body, gzipped: gzipSync(body, { level: 9 }), type: TYPES[name], etag });
  }
  return set;
}

function esbuildInstalled(): boolean {
  try {
    require.resolve('esbuild');
    return true;
  } catch {
    return false;
  }
}

/**
 * The page's files: `src/ui/app/main.ts` and everything it imports (the browser client too)
 * bundled and minified into `app.js`, beside the static `index.html` and `app.css`.
 */
export async function bundleUi(): Promise<Map<string, Buffer>> {
  const esbuild = await import('esbuild');
  // esbuild answers through a helper process; stopped once the page is built so that it does not
  // keep the process (a test runner, the build script) alive.
  const result = await esbuild
    .build({
      entryPoints: [path.join(SOURCE_UI_DIR, 'main.ts')],
      tsconfig: path.join(PACKAGE_ROOT, 'tsconfig.browser.json'),
      bundle: true,
      format: 'iife',
      platform: 'browser',
      target: ['chrome111', 'firefox115', 'safari16'],
      minify: true,
      legalComments: 'none',
      write: false,
      outfile: 'app.js',
      logLevel: 'silent',
    })
    .finally(() => esbuild.stop());
  const files = new Map<string, Buffer>([['app.js', Buffer.from(result.outputFiles[0].contents)]]);
  for (const name of STATIC_FILES) files.set(name, await readFile(path.join(SOURCE_UI_DIR, name)));
  return files;
}

/** Writes the bundled page to `dir` (`dist/ui`): what `npm run build` ships in the package. */
export async function writeUiAssets(dir = BUILT_UI_DIR): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files = await bundleUi();
  for (const [name, body] of files) await writeFile(path.join(dir, name), body);
  return [...files.keys()].map((name) => path.join(dir, name));
}
