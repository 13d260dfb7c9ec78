import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { deepMerge, interpolate, loadConfigFiles } from './load-config';

describe('interpolate', () => {
  const env = { A: 'alpha', EMPTY: '' };
  it.each([
    ['${A}', 'alpha'],
    ['x-${A}-y', 'x-alpha-y'],
    ['${MISSING:-fallback}', 'fallback'],
    ['${EMPTY:-fallback}', 'fallback'],
    ['${A:-fallback}', 'alpha'],
    ['pre-${MISSING}', 'pre-'],
    ['no placeholders', 'no placeholders'],
  ])('%s → %j', (input, expected) => {
    expect(interpolate(input, env)).toBe(expected);
  });

  it('drops keys whose whole value is an unset variable, recursing into objects and arrays', () => {
    expect(interpolate({ a: '${MISSING}', b: ['${A}'], c: { d: '${A}' }, n: 5 }, env)).toEqual({
      b: ['alpha'],
      c: { d: 'alpha' },
      n: 5,
    });
  });
});

describe('deepMerge', () => {
  it('merges objects and replaces everything else', () => {
    expect(deepMerge({ a: { x: 1, y: 2 }, l: [1] }, { a: { y: 3 }, l: [2] })).toEqual({ a: { x: 1, y: 3 }, l: [2] });
  });
});

describe('loadConfigFiles', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
    fs.writeFileSync(
      path.join(dir, 'default.yaml'),
      'storages:\n  storages.Default: { type: storages.LocalType, root: "${DATA_DIR:-./data}/files" }\n',
    );
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads default.yaml, then NODE_ENV, then STORAGE_CONFIG, with env interpolation', () => {
    fs.writeFileSync(path.join(dir, 'prod.yaml'), 'settings: { defaultElement: { defaultStorage: storages.Extra } }\n');
    const extra = path.join(dir, 'extra.json');
    fs.writeFileSync(
      extra,
      JSON.stringify({ storages: { 'storages.Extra': { type: 'storages.S3Type', bucket: '${B}' } } }),
    );
    const config = loadConfigFiles({ NODE_ENV: 'prod', STORAGE_CONFIG: extra, DATA_DIR: '/srv', B: 'bkt' }, dir);
    expect(config).toEqual({
      settings: { defaultElement: { defaultStorage: 'storages.Extra' } },
      storages: {
        'storages.Default': { type: 'storages.LocalType', root: '/srv/files' },
        'storages.Extra': { type: 'storages.S3Type', bucket: 'bkt' },
      },
    });
  });

  it('names a missing STORAGE_CONFIG file and an unparsable one', () => {
    expect(() => loadConfigFiles({ STORAGE_CONFIG: path.join(dir, 'nope.yaml') }, dir)).toThrow(/STORAGE_CONFIG/);
    const bad = path.join(dir, 'bad.yaml');
    fs.writeFileSync(bad, 'a: [unclosed');
    expect(() => loadConfigFiles({ STORAGE_CONFIG: bad }, dir)).toThrow(/bad\.yaml/);
  });
});
