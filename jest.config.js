// Three projects: unit specs beside the code, end-to-end specs in test/ against the real app, and
// the driver contract (test/drivers) against each backend's protocol peer, started by the specs.
// `npm test` runs both on embedded SQLite; `npm run test:mysql` runs e2e with DB_URL set.
const transform = { '^.+\\.(t|j)s$': ['@swc/jest'] };
const common = { transform, testEnvironment: 'node', moduleFileExtensions: ['ts', 'js', 'json'] };

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
      globalTeardown: '<rootDir>/harness/global-teardown.ts',
    },
    {
      ...common,
      // ali-oss ships .ts sources beside its .js files: resolve .js first or Jest loads the ESM .ts.
      moduleFileExtensions: ['js', 'ts', 'json'],
      displayName: 'drivers',
      rootDir: 'test',
      testRegex: '\\.contract-spec\\.ts$',
    },
  ],
};
