import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseSize, resolveApiTokens } from './env-options';

describe('parseSize', () => {
  it.each([
    ['1048576', 1048576],
    ['512KB', 512 * 1024],
    ['100MB', 100 * 1024 ** 2],
    ['100mib', 100 * 1024 ** 2],
    ['5GB', 5 * 1024 ** 3],
    ['1.5 GB', 1.5 * 1024 ** 3],
    ['2T', 2 * 1024 ** 4],
  ])('%s → %d', (raw, bytes) => {
    expect(parseSize(raw, 'MAX_UPLOAD_SIZE')).toBe(bytes);
  });

  it.each(['', 'ten', '5 PB', '-1MB', '1,5GB'])('refuses %j, naming the variable', (raw) => {
    expect(() => parseSize(raw, 'MAX_UPLOAD_SIZE')).toThrow(/MAX_UPLOAD_SIZE/);
  });
});

describe('resolveApiTokens', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tokens-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads name:token pairs, a colon allowed inside the token', () => {
    expect(resolveApiTokens({ API_TOKENS: 'alice:a1, bob:b:2 ,' }, dir)).toEqual({ alice: 'a1', bob: 'b:2' });
  });

  it.each(['alice', ':token', 'alice:'])('refuses the pair %j', (pair) => {
    expect(() => resolveApiTokens({ API_TOKENS: pair }, dir)).toThrow(/API_TOKENS/);
  });

  it('without API_TOKENS makes one admin token, private to its owner, and keeps it across starts', () => {
    const first = resolveApiTokens({}, dir);
    expect(Object.keys(first)).toEqual(['admin']);
    expect(first.admin.length).toBeGreaterThanOrEqual(32);
    expect(fs.statSync(path.join(dir, 'api-token')).mode & 0o777).toBe(0o600);
    expect(resolveApiTokens({}, dir)).toEqual(first);
  });
});
