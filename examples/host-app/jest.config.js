// Specs in test/, compiled by SWC with decorator metadata (Nest injects by constructor types).
// Nest 12 ships ES modules only: Node loads them from CommonJS (require(esm)), but Jest's own
// module loader does not, so those packages are compiled to CommonJS as well. storage-svc itself
// is CommonJS and needs nothing.
const swc = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    target: 'es2022',
    keepClassNames: true,
  },
  module: { type: 'commonjs' },
};

module.exports = {
  testEnvironment: 'node',
  rootDir: '.',
  testRegex: 'test/.*\\.spec\\.ts$',
  moduleFileExtensions: ['js', 'ts', 'json'],
  transform: { '^.+\\.(t|j)s$': ['@swc/jest', swc] },
  transformIgnorePatterns: ['/node_modules/(?!(@nestjs|uid|file-type)/)'],
  testTimeout: 60000,
};
