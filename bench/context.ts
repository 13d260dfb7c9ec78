/** What every scenario gets: the options, the running servers, and where to put figures. */
import type { BenchOptions } from './options';
import type { Server, ServiceProcess } from './processes';
import type { Results } from './report';

export interface BenchContext {
  options: BenchOptions;
  results: Results;
  /** One service per database of the run (sqlite, mysql), each with its own data. */
  services: ServiceProcess[];
  /** The bare `node:http` baseline and `express` + `serve-static`, serving `baselineDir`. */
  bare: Server;
  express: Server;
  baselineDir: string;
  /** A scratch folder of the run (data folders of extra services, the configuration). */
  workDir: string;
  /** The service configuration of the run (STORAGE_CONFIG), for services a scenario starts. */
  configFile: string;
}

/** `service (sqlite)`: how a service appears as a subject in the results. */
export function subjectOf(service: ServiceProcess, what = ''): string {
  return `service ${service.db}${what ? ` ${what}` : ''}`;
}

export function log(message: string): void {
  process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}
