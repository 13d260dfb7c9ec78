import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * How storage-svc is installed: as a package of its own (not a link into a checkout), sharing
 * the application's Nest and TypeORM. Two copies of @nestjs/core would give two sets of injection
 * tokens and metadata: the module's providers would not be found by the app.
 */
const appDir = path.resolve(__dirname, '..');
const libDir = path.join(appDir, 'node_modules', 'storage-svc');

/** The real path of what `request` resolves to from `dir` (its package.json where exported, else its entry). */
function realResolve(dir: string, pkg: string): string {
  let resolved: string;
  try {
    resolved = require.resolve(`${pkg}/package.json`, { paths: [dir] });
  } catch {
    resolved = require.resolve(pkg, { paths: [dir] });
  }
  return fs.realpathSync(resolved);
}

describe('storage-svc installed into the app', () => {
  it('is a package in node_modules, not a link', () => {
    expect(fs.lstatSync(libDir).isDirectory()).toBe(true);
    expect(fs.lstatSync(libDir).isSymbolicLink()).toBe(false);
    expect(fs.existsSync(path.join(libDir, 'dist', 'storage', 'index.d.ts'))).toBe(true);
    // Nothing of its own beyond its runtime dependencies: the peers are the app's.
    expect(fs.existsSync(path.join(libDir, 'node_modules', '@nestjs'))).toBe(false);
    expect(fs.existsSync(path.join(libDir, 'node_modules', 'typeorm'))).toBe(false);
  });

  it.each([
    '@nestjs/core',
    '@nestjs/common',
    '@nestjs/typeorm',
    '@nestjs/schedule',
    '@nestjs/platform-express',
    'typeorm',
    'rxjs',
    'reflect-metadata',
  ])('%s resolves to the same copy from the app and from inside storage-svc', (pkg) => {
    const fromApp = realResolve(appDir, pkg);
    const fromLib = realResolve(libDir, pkg);
    expect(fromLib).toBe(fromApp);
    expect(fromApp.startsWith(fs.realpathSync(path.join(appDir, 'node_modules')) + path.sep)).toBe(true);
  });

  it('npm ls finds exactly one @nestjs/core in the whole tree', () => {
    const out = execFileSync('npm', ['ls', '@nestjs/core', '--all', '--parseable'], { cwd: appDir, encoding: 'utf8' });
    const paths = [...new Set(out.split('\n').filter((line) => line.includes(`${path.sep}node_modules${path.sep}`)))];
    expect(paths).toEqual([fs.realpathSync(path.join(appDir, 'node_modules', '@nestjs', 'core'))]);
  });
});
