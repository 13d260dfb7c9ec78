import { execFileSync } from 'node:child_process';
import { ConfigError, type StorageInstanceConfig } from '../config/storage-config';
import {
  assertPackagesInstalled,
  DRIVER_DEFINITIONS,
  missingPackages,
  parseInstance,
  type StorageInstanceOptions,
  type StorageType,
} from './driver-definitions';

const field = "storages['storages.X']";

/** The field named by the `ConfigError` that `parse` throws (undefined when it throws none). */
function failingField(parse: () => unknown): string | undefined {
  try {
    parse();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).field;
  }
  return undefined;
}

describe('storage type definitions', () => {
  const valid: Record<StorageType, Record<string, unknown>> = {
    'storages.LocalType': { root: './files' },
    'storages.S3Type': { bucket: 'b', region: 'us-east-1' },
    'storages.MinioType': { endPoint: 'minio', bucket: 'b', accessKey: 'a', secretKey: 's' },
    'storages.OssType': { bucket: 'b', region: 'oss-cn-beijing', accessKeyId: 'a', accessKeySecret: 's' },
    'storages.AzureBlobType': { connectionString: 'AccountName=a;AccountKey=k', container: 'c' },
    'storages.MemoryType': {},
  };
  const parse = <T extends StorageType>(type: T, options: Record<string, unknown>) =>
    DRIVER_DEFINITIONS[type].parse({ type, ...options }, field);

  it.each(Object.entries(valid))('reads a minimal %s configuration', (type, options) => {
    expect(parse(type as StorageType, options)).toMatchObject(options);
  });

  it.each<[StorageType, Record<string, unknown>, string]>([
    ['storages.LocalType', { root: '' }, 'root'],
    ['storages.LocalType', { publicUrl: 'ftp://x' }, 'publicUrl'],
    ['storages.S3Type', { bucket: undefined }, 'bucket'],
    ['storages.S3Type', { credentials: { accessKeyId: 'a' } }, 'credentials.secretAccessKey'],
    ['storages.S3Type', { credentials: null }, 'credentials.accessKeyId'],
    ['storages.S3Type', { timeoutMs: 'fast' }, 'timeoutMs'],
    ['storages.S3Type', { publicUrl: 'ftp://x' }, 'publicUrl'],
    ['storages.S3Type', { partSize: 1024 }, 'partSize'],
    ['storages.MinioType', { endPoint: '' }, 'endPoint'],
    ['storages.MinioType', { port: 70000 }, 'port'],
    ['storages.MinioType', { useSSL: 'yes' }, 'useSSL'],
    ['storages.MinioType', { secretKey: undefined }, 'secretKey'],
    ['storages.OssType', { accessKeySecret: undefined }, 'accessKeySecret'],
    ['storages.OssType', { region: undefined }, 'region'],
    ['storages.OssType', { region: undefined, endpoint: 'http://10.0.0.5:9000' }, 'region'],
    ['storages.OssType', { createBucket: 'yes' }, 'createBucket'],
    ['storages.S3Type', { timeoutMs: '12.5' }, 'timeoutMs'],
    ['storages.AzureBlobType', { connectionString: 'not a connection string' }, 'connectionString'],
    ['storages.AzureBlobType', { container: undefined }, 'container'],
    ['storages.AzureBlobType', { retryOptions: { maxTries: 0 } }, 'retryOptions.maxTries'],
    ['storages.MemoryType', { publicUrl: 'ftp://x' }, 'publicUrl'],
    ['storages.S3Type', { publicEndpoint: 'minio:9000' }, 'publicEndpoint'],
    ['storages.S3Type', { publicEndpoint: 'http://localhost:9000/?x=1' }, 'publicEndpoint'],
    ['storages.S3Type', { publicEndpoint: 'http://user:pw@localhost:9000' }, 'publicEndpoint'],
    ['storages.MinioType', { publicEndpoint: 'http://localhost:9000/minio' }, 'publicEndpoint'],
    ['storages.OssType', { publicEndpoint: 'http://10.0.0.5:9000' }, 'publicEndpoint'],
    ['storages.AzureBlobType', { publicEndpoint: 'not a url' }, 'publicEndpoint'],
  ])('%s with %j names %s', (type, change, name) => {
    expect(failingField(() => parse(type, { ...valid[type], ...change }))).toBe(`${field}.${name}`);
  });

  it.each<[StorageType, string, string]>([
    ['storages.S3Type', 'http://localhost:9000/', 'http://localhost:9000'],
    ['storages.MinioType', 'https://files.example.com', 'https://files.example.com'],
    ['storages.OssType', 'https://oss-cn-beijing.aliyuncs.com/', 'https://oss-cn-beijing.aliyuncs.com'],
    ['storages.AzureBlobType', 'http://localhost:10000/devstoreaccount1/', 'http://localhost:10000/devstoreaccount1'],
  ])('%s reads publicEndpoint %s as %s', (type, publicEndpoint, expected) => {
    expect(parse(type, { ...valid[type], publicEndpoint })).toMatchObject({ publicEndpoint: expected });
  });

  it('reads numbers and flags from ${VAR} interpolation (strings) into a new object, leaving the raw one as it was', () => {
    const raw = {
      ...valid['storages.MinioType'],
      port: '9000',
      useSSL: 'false',
      timeoutMs: '2500',
      createBucket: 'true',
    };
    const before = { ...raw };
    expect(parse('storages.MinioType', raw)).toMatchObject({
      port: 9000,
      useSSL: false,
      timeoutMs: 2500,
      createBucket: true,
    });
    expect(raw).toEqual(before);
  });

  it('keeps the SDK options the drivers pass on: session tokens and Azure retry options', () => {
    const credentials = { accessKeyId: 'a', secretAccessKey: 's', sessionToken: 't' };
    expect(parse('storages.S3Type', { ...valid['storages.S3Type'], credentials }).credentials).toEqual(credentials);
    expect(parse('storages.MinioType', { ...valid['storages.MinioType'], sessionToken: 't' })).toMatchObject({
      sessionToken: 't',
    });
    expect(parse('storages.OssType', { ...valid['storages.OssType'], stsToken: 't' })).toMatchObject({ stsToken: 't' });
    // Only the retry options that are set: the driver spreads them over its own defaults.
    const azure = parse('storages.AzureBlobType', {
      ...valid['storages.AzureBlobType'],
      retryOptions: { maxTries: '2', secondaryHost: 'h' },
    });
    expect(azure.retryOptions).toEqual({ maxTries: 2, secondaryHost: 'h' });
  });
});

describe('parseInstance', () => {
  it.each([['storages.FtpType'], ['toString'], [undefined]])('refuses the type %j, listing the known ones', (type) => {
    expect(() => parseInstance({ type }, field)).toThrow(
      `invalid configuration at '${field}.type': unknown storage type ${JSON.stringify(type)}; known types: ` +
        Object.keys(DRIVER_DEFINITIONS).join(', '),
    );
  });

  it('takes typed instance options, which also fit the loose StorageInstanceConfig', () => {
    const typed: StorageInstanceOptions = { type: 'storages.S3Type', bucket: 'b', partSize: 8 * 1024 * 1024 };
    const loose: StorageInstanceConfig = typed;
    expect(parseInstance(loose, field).type).toBe('storages.S3Type');
    expect(failingField(() => parseInstance({ ...loose, partSize: 1 }, field))).toBe(`${field}.partSize`);
  });

  it('loads no cloud SDK until an instance of its type is created', () => {
    const script = `
      const { parseInstance } = require('./src/storage/drivers/driver-definitions.ts');
      const sdks = () => Object.keys(require.cache).filter((f) => /node_modules\\/(@aws-sdk\\/client-s3|minio|ali-oss|@azure\\/storage-blob)\\//.test(f)).map((f) => f.split('node_modules/')[1].split('/').slice(0, 2).join('/'));
      const instance = parseInstance({ type: 'storages.S3Type', bucket: 'b', region: 'us-east-1' }, 'storages.S3');
      const before = new Set(sdks());
      instance.create({ name: 'n', baseDir: '.' })
        .then((d) => { d.close(); console.log(JSON.stringify({ before: [...before], after: [...new Set(sdks())].sort() })); });
    `;
    const out = execFileSync(process.execPath, ['-r', 'ts-node/register/transpile-only', '-e', script], {
      cwd: `${__dirname}/../../..`,
      encoding: 'utf8',
      env: { ...process.env, NODE_NO_WARNINGS: '1' },
    });
    const { before, after } = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { before: string[]; after: string[] };
    expect(before).toEqual([]);
    expect(after.some((name) => name.startsWith('@aws-sdk/client-s3'))).toBe(true);
    expect(after.filter((name) => !name.startsWith('@aws-sdk'))).toEqual([]);
  }, 30_000);
});

describe('optional SDK packages', () => {
  it('finds the installed ones and names the missing ones with the install command', () => {
    expect(missingPackages(['@aws-sdk/client-s3', 'minio', 'no-such-package-xyz'])).toEqual(['no-such-package-xyz']);
    expect(() => assertPackagesInstalled('storages.S3Type', ['no-such-package-xyz', 'nor-this-one'], 'f.type')).toThrow(
      "invalid configuration at 'f.type': storages.S3Type needs the packages no-such-package-xyz, nor-this-one; install with: npm install no-such-package-xyz nor-this-one",
    );
    expect(() => assertPackagesInstalled('storages.MinioType', ['minio'], 'f.type')).not.toThrow();
  });

  it('lists each cloud type’s SDK', () => {
    expect(DRIVER_DEFINITIONS['storages.S3Type'].packages).toContain('@aws-sdk/client-s3');
    expect(DRIVER_DEFINITIONS['storages.AzureBlobType'].packages).toEqual(['@azure/storage-blob']);
    expect(DRIVER_DEFINITIONS['storages.LocalType'].packages).toEqual([]);
  });
});
