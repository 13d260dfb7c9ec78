/** `npm run bench -- [options]`: see README, "Benchmark". */

export const SCENARIOS = ['get', 'upload', 'big', 'thumbnail', 'records'] as const;
export type Scenario = (typeof SCENARIOS)[number];
export const STORAGES = ['local', 's3', 'minio', 'azure'] as const;

export interface BenchOptions {
  scenarios: Scenario[];
  dbs: ('sqlite' | 'mysql')[];
  dbUrl: string;
  storage: (typeof STORAGES)[number];
  quick: boolean;
  rounds: number;
  seconds: number;
  /** Bytes of the small GET and upload bodies. */
  small: number;
  /** Bytes of the large transfers. */
  big: number;
  /** Record counts the meta and list figures are taken at (smallest first). */
  records: number[];
  /** Expired files the sweep removes. */
  sweep: number;
  /** Rounds and seconds of the meta and list runs at each record count. */
  readRounds: number;
  readSeconds: number;
  /** Longest the sweep is timed before the rate is taken from what it removed so far. */
  sweepSeconds: number;
  out: string;
  /** `--no-build`: use the `dist/` already there. */
  build: boolean;
}

const UNITS: Record<string, number> = { b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, kb: 1e3, mb: 1e6, gb: 1e9 };

/** `4KiB`, `1GiB`, `256MiB`, `1e6`, `1000000`. */
export function parseAmount(text: string): number {
  const match = /^([\d.e+]+)\s*([a-z]*)$/i.exec(text.trim());
  const unit = UNITS[(match?.[2] || 'b').toLowerCase()];
  const value = match ? Number(match[1]) * (unit ?? NaN) : NaN;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`not an amount: ${text}`);
  return Math.round(value);
}

function list<T extends string>(text: string, allowed: readonly T[], what: string): T[] {
  const items = text.split(',').map((s) => s.trim()) as T[];
  for (const item of items)
    if (!allowed.includes(item)) throw new Error(`unknown ${what} ${item}: one of ${allowed.join(', ')}`);
  return items;
}

/** `--sizes small=4KiB,big=1GiB,records=1e3:1e6,sweep=1e5`. */
function applySizes(options: BenchOptions, text: string): void {
  for (const pair of text.split(',')) {
    const [key, value] = pair.split('=');
    if (key === 'small') options.small = parseAmount(value);
    else if (key === 'big') options.big = parseAmount(value);
    else if (key === 'records')
      options.records = value
        .split(':')
        .map(parseAmount)
        .sort((a, b) => a - b);
    else if (key === 'sweep') options.sweep = parseAmount(value);
    else throw new Error(`unknown size ${key}: small, big, records or sweep`);
  }
}

export function parseOptions(argv: string[]): BenchOptions {
  const quick = argv.includes('--quick');
  const options: BenchOptions = {
    scenarios: [...SCENARIOS],
    dbs: ['sqlite', 'mysql'],
    dbUrl: process.env.BENCH_DB_URL ?? 'mysql://root@127.0.0.1:3306/bench',
    storage: 'local',
    quick,
    rounds: quick ? 2 : 3,
    seconds: quick ? 2 : 3,
    readRounds: quick ? 1 : 2,
    readSeconds: quick ? 1 : 3,
    small: 4 * 1024,
    big: quick ? 128 * 1024 ** 2 : 1024 ** 3,
    records: quick ? [1e3, 2e4] : [1e3, 1e6],
    sweep: quick ? 1e3 : 1e5,
    sweepSeconds: quick ? 10 : 45,
    out: 'bench/results.json',
    build: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === '--quick') continue;
    else if (flag === '--no-build') options.build = false;
    else if (flag === '--scenario' || flag === '--scenarios') options.scenarios = list(value(), SCENARIOS, 'scenario');
    else if (flag === '--db') options.dbs = list(value(), ['sqlite', 'mysql'] as const, 'database');
    else if (flag === '--db-url') options.dbUrl = value();
    else if (flag === '--storage') options.storage = list(value(), STORAGES, 'storage')[0];
    else if (flag === '--sizes') applySizes(options, value());
    else if (flag === '--rounds') options.rounds = parseAmount(value());
    else if (flag === '--seconds') options.seconds = parseAmount(value());
    else if (flag === '--sweep-seconds') options.sweepSeconds = parseAmount(value());
    else if (flag === '--out') options.out = value();
    else throw new Error(`unknown option ${flag} (see README, "Benchmark")`);
  }
  return options;
}
