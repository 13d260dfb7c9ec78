// Four projects: unit specs beside the code, end-to-end specs in test/ against the real app, the
// file manager page in headless Chromium (test/browser), and the driver contract (test/drivers)
// against each backend's protocol peer, started by the specs. `npm test` runs all four (e2e on
// embedded SQLite); `npm run test:mysql` runs e2e with DB_URL set.
// ali-oss ships .ts sources beside its .js files: resolve .js first or Jest loads the ESM .ts.
const transform = { '^.+\\.(t|j|mj)s$': ['@swc/jest'] };
// Nest 12 ships ES modules only: Jest (on Node 20) loads CommonJS, so those packages are compiled too.
const transformIgnorePatterns = ['/node_modules/(?!(@nestjs|uid|file-type|@tus|srvx)/)'];
const common = {
  transform,
  transformIgnorePatterns,
  testEnvironment: 'node',
  moduleFileExtensions: ['js', 'mjs', 'ts', 'json'],
};

module.exports = {
  testTimeout: 60000,
  projects: [
    { ...common, displayName: 'unit', rootDir: 'src', testRegex: '\\.spec\\.ts$' },
    {
      ...common,
      displayName: 'e2e',
      rootDir: 'test',
      testRegex: '\\.e2e-spec\\.ts$',
      globalSetup: '<rootDir>/harness/global-setup.ts',
    },
    {
      // The file manager page in headless Chromium (test/harness/browser.ts says how to install it).
      ...common,
      displayName: 'browser',
      rootDir: 'test',
      testRegex: '\\.browser-spec\\.ts$',
      globalSetup: '<rootDir>/harness/global-setup.ts',
    },
    {
      ...common,
      displayName: 'drivers',
      rootDir: 'test',
      testRegex: '\\.contract-spec\\.ts$',
    },
  ],
};
