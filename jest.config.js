// Two projects: unit specs beside the code, end-to-end specs in test/ against the real app.
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
  ],
};
