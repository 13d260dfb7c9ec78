import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parse } from 'yaml';
import { interpolate, loadConfigFiles } from '../../src/storage/config/load-config';
import { parseInstance } from '../../src/storage/drivers/driver-definitions';

/**
 * What docker-compose.yml and the Dockerfile promise, checked by reading them: nothing here can
 * run Docker. Images are pinned, long-running services have health checks and are waited on,
 * the scale profile is two app replicas behind a proxy with Redis, signed URLs name addresses a
 * browser on the host reaches, and the app is given only variables it reads.
 */

const ROOT = path.resolve(__dirname, '../..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

interface Service {
  image?: string;
  build?: unknown;
  profiles?: string[];
  ports?: (string | { target: number; published?: number | string })[];
  environment?: Record<string, string | number> | string[];
  volumes?: (string | { source?: string; target: string })[];
  healthcheck?: { test?: string[] | string; disable?: boolean };
  depends_on?: Record<string, { condition?: string }> | string[];
  restart?: string;
}

const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, Service> };
const services = Object.entries(compose.services);
const service = (name: string): Service => {
  const found = compose.services[name];
  if (!found) throw new Error(`docker-compose.yml has no service '${name}'`);
  return found;
};

/** Services started by `docker compose up` with `profile` active (undefined: no profile). */
const runningWith = (profile?: string) =>
  services.filter(([, s]) => !s.profiles?.length || (profile !== undefined && s.profiles.includes(profile)));

/** The app replicas: services built from this repository. */
const isApp = (s: Service) => s.build !== undefined;

/** One-shot services: something waits for them to complete instead of to be healthy. */
const oneShots = new Set(
  services.flatMap(([, s]) =>
    Object.entries(dependsOn(s))
      .filter(([, condition]) => condition === 'service_completed_successfully')
      .map(([name]) => name),
  ),
);

function dependsOn(s: Service): Record<string, string | undefined> {
  if (Array.isArray(s.depends_on)) return Object.fromEntries(s.depends_on.map((name) => [name, undefined]));
  return Object.fromEntries(Object.entries(s.depends_on ?? {}).map(([name, d]) => [name, d?.condition]));
}

function environment(s: Service): Record<string, string> {
  const env = s.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((pair) => [pair.split('=')[0], pair.slice(pair.indexOf('=') + 1)]));
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
}

/** Published ports as [host port, container port]. */
function published(s: Service): [number, number][] {
  return (s.ports ?? []).flatMap((port): [number, number][] => {
    if (typeof port !== 'string') return port.published ? [[Number(port.published), Number(port.target)]] : [];
    const parts = port.replace(/\/(tcp|udp)$/, '').split(':');
    return parts.length < 2 ? [] : [[Number(parts[parts.length - 2]), Number(parts[parts.length - 1])]];
  });
}

/** The repository file mounted at `target` in `s` (a bind mount from `./`). */
function mountedFile(s: Service, target: string): string {
  for (const volume of s.volumes ?? []) {
    const [source, to] = typeof volume === 'string' ? volume.split(':') : [volume.source ?? '', volume.target];
    if (to === target && source.startsWith('./')) return source.slice(2);
  }
  throw new Error(`nothing from the repository is mounted at ${target}`);
}

/** The app's environment as compose would give it, `${VAR:-default}` taking its default. */
function resolvedAppEnv(): Record<string, string> {
  const raw = environment(service('app'));
  return Object.fromEntries(
    Object.entries(raw).map(([k, v]) => [k, v.replace(/\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-([^}]*))?\}/g, '$1')]),
  );
}

/** The storage configuration file the app is given through STORAGE_CONFIG. */
const storageConfigFile = () => mountedFile(service('app'), environment(service('app')).STORAGE_CONFIG);
const storageConfig = () =>
  interpolate(parse(read(storageConfigFile())), resolvedAppEnv()) as {
    settings?: { defaultElement?: { defaultStorage?: string } };
    storages: Record<string, Record<string, unknown>>;
  };

describe('docker-compose.yml', () => {
  it('pins every image: a version tag, never latest or a floating name', () => {
    const unpinned = services
      .filter(([, s]) => s.image !== undefined || !isApp(s))
      .map(([name, s]) => {
        const image = s.image ?? '';
        const tag = /:([^/:@]+)(@sha256:[0-9a-f]{64})?$/.exec(image)?.[1];
        const floating = !tag || /^(latest|stable|mainline|lts|alpine|slim|current)$/.test(tag);
        // A locally built image is named by the build, not pulled; others need a version in the tag.
        return { name, image, pinned: !floating && (isApp(s) || /\d/.test(tag)) };
      })
      .filter((s) => !s.pinned);
    expect(unpinned).toEqual([]);
  });

  it('gives every long-running service a health check, and one-shot services no restart', () => {
    const missing = services
      .filter(([name]) => !oneShots.has(name))
      .filter(([, s]) => s.healthcheck?.disable || !s.healthcheck?.test || s.healthcheck.test.length === 0)
      .map(([name]) => name);
    expect(missing).toEqual([]);
    // Exec form: every word a string (an unquoted `a ? b : c` in YAML turns into a mapping), and
    // every `node -e` script compiles.
    for (const [name, s] of services.filter(([, s]) => Array.isArray(s.healthcheck?.test))) {
      const test = s.healthcheck!.test as unknown[];
      expect({ name, words: test.every((word) => typeof word === 'string') }).toEqual({ name, words: true });
      const script = test[test.indexOf('-e') + 1];
      if (test[1] === 'node') expect(() => new Function(String(script))).not.toThrow();
    }
    expect([...oneShots].map((name) => [name, service(name).restart])).toEqual(
      [...oneShots].map((name) => [name, 'no']),
    );
    expect(oneShots.size).toBeGreaterThan(0);
  });

  it('waits on conditions: healthy for services, completed for one-shots', () => {
    const waits = services.flatMap(([name, s]) =>
      Object.entries(dependsOn(s)).map(([on, condition]) => ({ name, on, condition })),
    );
    const wrong = waits.filter(
      ({ on, condition }) => condition !== (oneShots.has(on) ? 'service_completed_successfully' : 'service_healthy'),
    );
    expect(wrong).toEqual([]);
    expect(Object.keys(dependsOn(service('app'))).sort()).toEqual([
      'azurite',
      'azurite-setup',
      'mariadb',
      'minio-setup',
    ]);
  });

  it('runs one app replica by default; the scale profile adds a second, a proxy in front of both, and Redis', () => {
    expect(
      runningWith()
        .filter(([, s]) => isApp(s))
        .map(([name]) => name),
    ).toEqual(['app']);
    const scale = runningWith('scale');
    const replicas = scale.filter(([, s]) => isApp(s)).map(([name]) => name);
    expect(replicas).toHaveLength(2);
    expect(scale.some(([, s]) => s.image?.startsWith('redis:') && s.profiles?.includes('scale'))).toBe(true);

    const proxies = scale.filter(([, s]) => replicas.every((r) => dependsOn(s)[r] === 'service_healthy'));
    expect(proxies.map(([name]) => name)).toEqual(['proxy']);
    const nginx = read(mountedFile(service('proxy'), '/etc/nginx/conf.d/default.conf'));
    const upstream = [...nginx.matchAll(/^\s*server\s+([\w.-]+):(\d+)/gm)].map(([, host, port]) => `${host}:${port}`);
    expect(upstream.sort()).toEqual(replicas.map((r) => `${r}:${environment(service(r)).PORT}`).sort());
    // Streams uploads (no request buffering), takes big bodies and slow transfers.
    expect(nginx).toMatch(/^\s*proxy_request_buffering off;/m);
    expect(nginx).toMatch(/^\s*proxy_buffering off;/m);
    expect(/^\s*client_max_body_size (\d+)g;/m.exec(nginx)?.[1]).toBe('6');
    for (const timeout of ['proxy_read_timeout', 'proxy_send_timeout', 'client_body_timeout']) {
      expect({ timeout, value: new RegExp(`^\\s*${timeout} (\\S+);`, 'm').exec(nginx)?.[1] }).toEqual({
        timeout,
        value: '1h',
      });
    }
  });

  it('gives the replicas the same signing secret, tokens, database and storage configuration', () => {
    const [first, second] = runningWith('scale')
      .filter(([, s]) => isApp(s))
      .map(([, s]) => environment(s));
    for (const name of ['SIGNING_SECRET', 'API_TOKENS', 'DB_URL', 'STORAGE_CONFIG', 'PUBLIC_URL']) {
      expect({ name, first: first[name], same: first[name] === second[name] }).toEqual({
        name,
        first: expect.stringMatching(/./),
        same: true,
      });
    }
    expect(new URL(resolvedAppEnv().DB_URL).hostname).toBe('mariadb');
  });

  it('defaults to the MinIO instance, which every replica shares, not to a local disk', () => {
    const config = storageConfig();
    const name = config.settings?.defaultElement?.defaultStorage ?? 'storages.Default';
    expect(config.storages[name]?.type).toBe('storages.MinioType');
    expect(config.storages[name]?.endPoint).toBe('minio');
  });

  it('signs URLs for published ports on localhost: MinIO and Azurite publicEndpoints', () => {
    const config = storageConfig();
    const endpoints = Object.values(config.storages).flatMap((storage) => {
      if (storage.type === 'storages.MinioType') {
        return [
          { type: storage.type, internal: `http://${storage.endPoint}:${storage.port}`, pub: storage.publicEndpoint },
        ];
      }
      if (storage.type === 'storages.AzureBlobType') {
        const blob = /(?:^|;)BlobEndpoint=([^;]+)/.exec(String(storage.connectionString))?.[1];
        return [{ type: storage.type, internal: blob, pub: storage.publicEndpoint }];
      }
      return [];
    });
    expect(endpoints.map((e) => e.type).sort()).toEqual(['storages.AzureBlobType', 'storages.MinioType']);
    for (const { internal, pub } of endpoints) {
      const inside = new URL(String(internal));
      const outside = new URL(String(pub));
      expect(outside.hostname).toBe('localhost');
      expect(outside.pathname).toBe(inside.pathname);
      // The service's address names a compose service, whose container port is published on the public port.
      expect(published(service(inside.hostname))).toContainEqual([Number(outside.port), Number(inside.port)]);
    }
  });

  it('gives the storage configuration everything it needs, and it parses with the app’s own readers', () => {
    const file = storageConfigFile();
    const needed = [...read(file).matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map(([, name]) => name);
    const env = resolvedAppEnv();
    expect(needed.filter((name) => !env[name])).toEqual([]);
    const config = loadConfigFiles(
      { ...env, DATA_DIR: '/app/data', STORAGE_CONFIG: path.join(ROOT, file) },
      path.join(ROOT, 'config'),
    ) as { storages: Record<string, Record<string, unknown>> };
    for (const [name, options] of Object.entries(config.storages)) {
      expect(() => parseInstance(options, `storages['${name}']`)).not.toThrow();
    }
  });

  it('gives the app only variables it reads', () => {
    const sources = [
      ...readdirSync(path.join(ROOT, 'src/app')).map((f) => `src/app/${f}`),
      ...readdirSync(path.join(ROOT, 'src/storage/config')).map((f) => `src/storage/config/${f}`),
      ...readdirSync(path.join(ROOT, 'src/storage/options')).map((f) => `src/storage/options/${f}`),
    ].filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts'));
    const readByApp = new Set<string>();
    for (const file of sources) {
      const text = read(file);
      for (const [, name] of text.matchAll(/\benv(?:\.|\[\s*')([A-Z][A-Z0-9_]+)/g)) readByApp.add(name);
      for (const [, name] of text.matchAll(/'([A-Z][A-Z0-9_]{2,})'/g)) readByApp.add(name);
    }
    // Configuration files read variables through ${...} placeholders.
    for (const file of ['config/default.yaml', storageConfigFile()]) {
      for (const [, name] of read(file).matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)) readByApp.add(name);
    }
    expect(readByApp).toContain('PORT');
    expect(readByApp).toContain('SIGNING_SECRET');
    const given = runningWith('scale')
      .filter(([, s]) => isApp(s))
      .flatMap(([, s]) => Object.keys(environment(s)));
    expect([...new Set(given.filter((name) => !readByApp.has(name)))]).toEqual([]);
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((line) => line.trim() && !line.trim().startsWith('#'));
  const froms = dockerfile
    .filter((line) => /^FROM\s/i.test(line))
    .map((line) => /^FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?/i.exec(line)!.slice(1, 3));
  const stages = new Set(froms.map(([, name]) => name?.toLowerCase()));
  const finalStage = dockerfile.slice(dockerfile.findLastIndex((line) => /^FROM\s/i.test(line)));

  it('is multi-stage on Node pinned to an LTS major the package supports', () => {
    const bases = froms.map(([image]) => image).filter((image) => !stages.has(image.toLowerCase()));
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const image of bases) expect(image).toMatch(/^node:(\d+)-[a-z]+(-slim)?$/);
    const majors = new Set(bases.map((image) => Number(/^node:(\d+)/.exec(image)![1])));
    expect(majors.size).toBe(1);
    const [major] = majors;
    expect(major % 2).toBe(0); // even majors become LTS
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
    expect(major).toBeGreaterThanOrEqual(Number(/(\d+)/.exec(engines)![1]));
  });

  it('runs as a non-root user, with a HEALTHCHECK on GET /health/live at $PORT', () => {
    const user = finalStage.filter((line) => /^USER\s/i.test(line)).pop();
    expect(user).toBeDefined();
    expect(user!.split(/\s+/)[1]).not.toMatch(/^(root|0)(:|$)/);
    const healthcheck = finalStage.find((line) => /^HEALTHCHECK\s/i.test(line)) ?? '';
    expect(healthcheck).toMatch(/CMD \["node", "-e", ".*fetch\(.*process\.env\.PORT.*\/health\/live/);
    const exec = JSON.parse(healthcheck.slice(healthcheck.indexOf('CMD [') + 4)) as string[];
    expect(() => new Function(exec[2])).not.toThrow();
    expect(finalStage.find((line) => /^CMD\s/i.test(line))).toBe('CMD ["node", "dist/main.js"]');
  });

  it('builds with dev dependencies and runs with the run-time set picked from the lock file', () => {
    const text = dockerfile.join('\n');
    expect(text).toMatch(/^RUN npm ci --no-audit/m);
    expect(text).toMatch(/^RUN node runtime-deps\.mjs && npm ci --omit=dev/m);
    expect(finalStage.join('\n')).toMatch(/^COPY --from=runtime-deps \S+\/node_modules/m);
  });
});

describe('deploy/runtime-deps.mjs', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'runtime-deps-'));
    for (const file of ['package.json', 'package-lock.json']) writeFileSync(path.join(dir, file), read(file));
    mkdirSync(path.join(dir, 'dist/app'), { recursive: true });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const run = () =>
    execFileSync(process.execPath, [path.join(ROOT, 'deploy/runtime-deps.mjs')], {
      cwd: dir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });

  it('puts peers, imports of dist/ and the database drivers in dependencies at the lock file versions', () => {
    writeFileSync(
      path.join(dir, 'dist/app/a.js'),
      'require("@nestjs/core"); require("node:fs"); require("path"); require("./b"); require("@aws-sdk/client-s3/dist");',
    );
    run();
    const pkg = JSON.parse(read('package.json')) as Record<string, Record<string, string>>;
    const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { version: string }> };
    const out = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as Record<
      string,
      Record<string, string> | undefined
    >;
    const expected = [
      ...Object.keys(pkg.peerDependencies ?? {}),
      'mysql2',
      'better-sqlite3',
      '@nestjs/core',
      '@aws-sdk/client-s3',
    ];
    for (const name of expected) {
      expect({ name, version: out.dependencies?.[name] }).toEqual({
        name,
        version: pkg.dependencies?.[name] ?? lock.packages[`node_modules/${name}`].version,
      });
      expect(out.devDependencies?.[name]).toBeUndefined();
    }
    expect(Object.keys(out.dependencies ?? {}).filter((name) => name === 'path' || name.startsWith('node:'))).toEqual(
      [],
    );
    expect(out.scripts).toBeUndefined();
  });

  it('stops the build, naming the package, when dist/ needs one the lock file lacks', () => {
    writeFileSync(path.join(dir, 'dist/app/a.js'), 'require("left-pad-not-installed");');
    expect(run).toThrow(/not in package-lock\.json: left-pad-not-installed/);
  });
});
