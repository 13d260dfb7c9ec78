import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { appConfigDir } from './app.config';

describe('appConfigDir', () => {
  let cwd: string;
  beforeEach(() => (cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'app-config-'))));
  afterEach(() => fs.rmSync(cwd, { recursive: true, force: true }));

  it("is the folder's own config/ when it holds a default.yaml", () => {
    fs.mkdirSync(path.join(cwd, 'config'));
    fs.writeFileSync(path.join(cwd, 'config', 'default.yaml'), 'storages: {}\n');
    expect(appConfigDir(cwd)).toBe(path.join(cwd, 'config'));
  });

  it("is the package's own config/ (the embedded default) otherwise", () => {
    const dir = appConfigDir(cwd);
    expect(dir).not.toBe(path.join(cwd, 'config'));
    expect(fs.readFileSync(path.join(dir, 'default.yaml'), 'utf8')).toContain('storages.LocalType');
  });
});
