#!/usr/bin/env node
import 'reflect-metadata';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { AppCoreModule } from '../app/app-core.module';
import { assertDatabaseDriver } from '../app/database';
import { isStorageError } from '../storage/errors/storage.error';
import { LifecycleService } from '../storage/jobs/lifecycle.service';
import { StorageService } from '../storage/storage.service';
import { counted, liveBytes, migrate, verify } from './operations';
import { Progress } from './progress';

/** Exit codes: 0 done, 1 the work failed (or found problems), 2 the command line was wrong, 130 interrupted. */
export const EXIT = { OK: 0, FAILURE: 1, USAGE: 2, INTERRUPTED: 130 } as const;

/**
 * The application without HTTP: the core `npm start` builds on, with the same configuration (`DATA_DIR`,
 * `DB_URL`, `STORAGE_CONFIG`, `config/*.yaml`). The scheduled sweeper stays off unless the
 * environment turns it on: a command does its one job and exits.
 */
async function openContext(): Promise<INestApplicationContext> {
  const env = { SWEEP_ENABLED: 'false', ...process.env };
  // Before Nest, which would log the missing driver with a stack: one line says what to install.
  assertDatabaseDriver(env);
  const app = await NestFactory.createApplicationContext(AppCoreModule.forRoot(env), {
    logger: process.env.CLI_LOG_LEVEL === 'debug' ? ['error', 'warn', 'log', 'debug'] : ['error', 'warn'],
    abortOnError: false,
  });
  app.enableShutdownHooks();
  return app;
}

async function withContext(work: (app: INestApplicationContext) => Promise<number | void>): Promise<void> {
  const app = await openContext();
  try {
    process.exitCode = (await work(app)) ?? EXIT.OK;
  } finally {
    await app.close();
  }
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a whole number of seconds above 0');
  return n;
}

/** Files under `root` (recursively when a folder), with the key each gets relative to it. */
function* filesOf(root: string): Generator<{ file: string; rel: string }> {
  const stat = fs.statSync(root);
  if (!stat.isDirectory()) {
    yield { file: root, rel: path.basename(root) };
    return;
  }
  const entries = fs.readdirSync(root, { recursive: true, withFileTypes: true });
  const files = entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
  for (const file of files.sort()) yield { file, rel: path.relative(root, file).split(path.sep).join('/') };
}

async function md5OfFile(file: string): Promise<string> {
  const { createHash } = await import('node:crypto');
  const hash = createHash('md5');
  await pipeline(fs.createReadStream(file), hash);
  return hash.digest('hex');
}

function joinKey(prefix: string | undefined, rel: string): string {
  if (!prefix) return rel;
  return `${prefix.replace(/\/+$/, '')}/${rel}`;
}

export function buildProgram(): Command {
  const program = new Command('storage-svc')
    .description(
      'Operate a storage-svc data store from the shell: the same module and configuration as `npm start` (DATA_DIR, DB_URL, STORAGE_CONFIG), no HTTP.',
    )
    .exitOverride()
    .showHelpAfterError('(run storage-svc --help for usage)');
  const storageOption = () => new Option('--storage <name>', 'storage instance (default: the configured default)');

  program
    .command('upload')
    .description("upload files or whole folders; a folder's files are keyed relative to it, under --to")
    .argument('<paths...>', 'files or folders')
    .option('--to <prefix>', 'key prefix')
    .option('--md5', 'store each file under {md5}{suffix}, content-addressed (shared by identical files)')
    .option('--expires <seconds>', 'seconds until the files expire', positiveInt)
    .addOption(storageOption())
    .action(async (paths: string[], opts: { to?: string; md5?: boolean; expires?: number; storage?: string }) => {
      const missing = paths.filter((p) => !fs.existsSync(p));
      if (missing.length > 0) throw new UsageError(`no such file or folder: ${missing.join(', ')}`);
      const files = paths.flatMap((p) => [...filesOf(p)]);
      await withContext(async (app) => {
        const service = app.get(StorageService);
        const progress = new Progress(
          'upload',
          files.reduce((n, f) => n + fs.statSync(f.file).size, 0),
        );
        for (const { file, rel } of files) {
          const size = fs.statSync(file).size;
          const body = counted(fs.createReadStream(file), progress);
          const record = await service.uploadStream({
            file: joinKey(opts.to, rel),
            body,
            size,
            storage: opts.storage,
            expires: opts.expires,
            md5: opts.md5 ? await md5OfFile(file) : undefined,
            fileName: path.basename(file),
          });
          progress.item(`${file} -> ${record.name}`);
        }
        progress.finish(`${files.length} files uploaded`);
      });
    });

  program
    .command('download')
    .description("download a file; dest is a file or folder (default: the key's base name here), - for stdout")
    .argument('<key>')
    .argument('[dest]')
    .addOption(storageOption())
    .action(async (key: string, dest: string | undefined, opts: { storage?: string }) => {
      await withContext(async (app) => {
        const { stream } = await app.get(StorageService).downloadStream(key, { storage: opts.storage });
        if (dest === '-') {
          await pipeline(stream, process.stdout);
          return;
        }
        let target = dest ?? path.basename(key);
        if (fs.existsSync(target) && fs.statSync(target).isDirectory()) target = path.join(target, path.basename(key));
        await pipeline(stream, fs.createWriteStream(target));
      });
    });

  program
    .command('ls')
    .description('list live files, oldest first: size, md5, key')
    .argument('[prefix]')
    .option('--json', 'one JSON record per line')
    .addOption(storageOption())
    .action(async (prefix: string | undefined, opts: { json?: boolean; storage?: string }) => {
      await withContext(async (app) => {
        const service = app.get(StorageService);
        let cursor: string | undefined;
        do {
          const page = await service.list({ storage: opts.storage, prefix, limit: 1000, cursor });
          for (const r of page.items) {
            process.stdout.write(opts.json ? `${JSON.stringify(r)}\n` : `${r.size}\t${r.md5}\t${r.name}\n`);
          }
          cursor = page.nextCursor ?? undefined;
        } while (cursor);
      });
    });

  program
    .command('rm')
    .description('remove files')
    .argument('<keys...>')
    .addOption(storageOption())
    .action(async (keys: string[], opts: { storage?: string }) => {
      await withContext(async (app) => {
        const service = app.get(StorageService);
        let failed = 0;
        for (const key of keys) {
          try {
            await service.delete(key, opts.storage);
            process.stdout.write(`removed ${key}\n`);
          } catch (err) {
            if (!isStorageError(err)) throw err;
            failed++;
            process.stderr.write(`storage-svc: ${err.code}: ${err.message}\n`);
          }
        }
        return failed > 0 ? EXIT.FAILURE : EXIT.OK;
      });
    });

  const lifecycleRuns = {
    sweep: 'remove expired files now (what the scheduled sweeper does); prints the report as JSON',
    reconcile: 'remove orphaned objects and stale temp files; prints the report as JSON',
  };
  for (const [name, description] of Object.entries(lifecycleRuns)) {
    program
      .command(name)
      .description(description)
      .addOption(storageOption())
      .action(async (opts: { storage?: string }) => {
        await withContext(async (app) => {
          const lifecycle = app.get(LifecycleService);
          const scope = { storage: opts.storage };
          const report = name === 'sweep' ? await lifecycle.sweepExpired(scope) : await lifecycle.reconcile(scope);
          process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        });
      });
  }

  program
    .command('migrate')
    .description(
      'move every file of one instance to another, hash-checked, record by record; safe to stop (Ctrl-C) and rerun',
    )
    .requiredOption('--from <name>', 'source instance, e.g. storages.Default')
    .requiredOption('--to <name>', 'target instance, e.g. storages.S3')
    .action(async (opts: { from: string; to: string }) => {
      await withContext(async (app) => {
        let stopping = false;
        const stop = () => {
          if (stopping) process.exit(EXIT.INTERRUPTED);
          stopping = true;
          process.stderr.write('\nstopping after the current file (Ctrl-C again to abort at once; rerun to resume)\n');
        };
        process.on('SIGINT', stop).on('SIGTERM', stop);
        const progress = new Progress('migrate', await liveBytes(app, opts.from));
        const report = await migrate(app, opts.from, opts.to, { progress, stop: () => stopping });
        for (const key of report.conflicts) {
          process.stdout.write(
            `CONFLICT\t${key}\t${opts.to} holds a newer file under this key; left on ${opts.from}\n`,
          );
        }
        progress.finish(
          `${report.migrated} files copied, ${report.resumed} already on ${opts.to} switched` +
            (report.conflicts.length > 0 ? `, ${report.conflicts.length} conflicts left on ${opts.from}` : '') +
            (stopping ? ' (stopped: rerun to finish)' : ''),
        );
        if (stopping) return EXIT.INTERRUPTED;
        return report.conflicts.length > 0 ? EXIT.FAILURE : EXIT.OK;
      });
    });

  program
    .command('verify')
    .description('re-hash every object against its record; lists mismatches and missing objects, exit 1 if any')
    .addOption(storageOption())
    .action(async (opts: { storage?: string }) => {
      await withContext(async (app) => {
        const instances = opts.storage ? [opts.storage] : app.get(StorageService).storages().names;
        let total = 0;
        for (const name of instances) total += await liveBytes(app, name);
        const progress = new Progress('verify', total);
        const result = await verify(app, opts.storage, {
          progress,
          onProblem: (p) => process.stdout.write(`${p.problem.toUpperCase()}\t${p.storage}\t${p.name}\t${p.detail}\n`),
        });
        progress.finish(`${result.checked} files checked, ${result.problems.length} problems`);
        return result.problems.length > 0 ? EXIT.FAILURE : EXIT.OK;
      });
    });

  return program;
}

class UsageError extends Error {}

export async function run(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end with exit code 0; anything else commander refuses is a usage error.
      return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`storage-svc: ${err.message}\n`);
      return EXIT.USAGE;
    }
    if (isStorageError(err)) {
      process.stderr.write(`storage-svc: ${err.code}: ${err.message}\n`);
      return err.code === 'E_UNKNOWN_STORAGE' || err.code === 'E_INVALID_PATH' ? EXIT.USAGE : EXIT.FAILURE;
    }
    process.stderr.write(`storage-svc: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT.FAILURE;
  }
}

if (require.main === module) {
  void run(process.argv).then((code) => {
    process.exitCode = code;
  });
}
