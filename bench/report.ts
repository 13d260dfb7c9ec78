/**
 * What one bench run measured: figures (median and spread over interleaved rounds), ratios to
 * the same run's bare server, the targets with pass/fail, and the machine. Printed as a
 * table and written to `bench/results.json`.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { ROOT } from './processes';

export interface Measurement {
  scenario: string;
  subject: string;
  metric: string;
  unit: string;
  median: number;
  min: number;
  max: number;
  /** (max - min) / median: how far the rounds are apart. */
  spread: number;
  values: number[];
  /** median / the bare server's median of the same scenario and metric, where there is one. */
  vsBare?: number;
}

export interface Target {
  id: string;
  text: string;
  value: number | null;
  limit: number;
  /** `min`: the value must be at least `limit`; `max`: at most. */
  kind: 'min' | 'max';
  pass: boolean;
  /** For a target not reached (or not measured): why, and what would reach it. */
  why?: string;
}

export interface EventLoopSample {
  scenario: string;
  subject: string;
  maxMs: number;
  p99Ms: number;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** A run of one subject in one round: its figures by metric. */
export type Figures = Record<string, number>;

export interface Run {
  subject: string;
  run: () => Promise<Figures>;
}

/**
 * Runs every subject once per round, in turn (service, bare, service, bare, ...), so that a
 * slow moment of the shared machine hits all of them alike; returns each subject's figures by
 * metric, one value per round.
 */
export async function interleave(rounds: number, runs: Run[]): Promise<Map<string, Map<string, number[]>>> {
  const collected = new Map<string, Map<string, number[]>>();
  for (let round = 0; round < rounds; round++) {
    for (const { subject, run } of runs) {
      const figures = await run();
      const bySubject = collected.get(subject) ?? new Map<string, number[]>();
      collected.set(subject, bySubject);
      for (const [metric, value] of Object.entries(figures)) {
        bySubject.set(metric, [...(bySubject.get(metric) ?? []), value]);
      }
    }
  }
  return collected;
}

export const BARE = 'bare node:http';

export class Results {
  readonly started = new Date();
  readonly measurements: Measurement[] = [];
  readonly targets: Target[] = [];
  readonly eventLoop: EventLoopSample[] = [];
  readonly notes: string[] = [];
  /** Seconds each scenario took, by name. */
  readonly durations: Record<string, number> = {};

  constructor(readonly options: object) {}

  add(scenario: string, subject: string, metric: string, unit: string, values: number[]): Measurement {
    const mid = median(values);
    const min = Math.min(...values);
    const max = Math.max(...values);
    const measurement = {
      scenario,
      subject,
      metric,
      unit,
      median: mid,
      min,
      max,
      spread: mid ? (max - min) / mid : 0,
      values,
    };
    this.measurements.push(measurement);
    this.relateToBare(scenario, metric);
    return measurement;
  }

  /** Adds what `interleave` collected; `units` names each metric's unit. */
  addAll(scenario: string, collected: Map<string, Map<string, number[]>>, units: Record<string, string>): void {
    for (const [subject, metrics] of collected) {
      for (const [metric, values] of metrics) {
        // Failed requests are a note, not a figure: a run without any is the normal case.
        if (metric === 'failed') {
          const failed = values.reduce((a, b) => a + b, 0);
          if (failed) this.notes.push(`${scenario}, ${subject}: ${failed} requests failed (non-2xx or errors)`);
        } else {
          this.add(scenario, subject, metric, units[metric] ?? '', values);
          if (metric.endsWith('/s') && values.includes(0)) {
            this.notes.push(`${scenario}, ${subject}: a round had no successful request`);
          }
        }
      }
    }
  }

  get(scenario: string, subject: string, metric: string): Measurement | undefined {
    return this.measurements.find((m) => m.scenario === scenario && m.subject === subject && m.metric === metric);
  }

  private relateToBare(scenario: string, metric: string): void {
    const bare = this.get(scenario, BARE, metric);
    if (!bare?.median) return;
    for (const m of this.measurements) {
      if (m.scenario === scenario && m.metric === metric && m.subject !== BARE) m.vsBare = m.median / bare.median;
    }
  }

  /** Records a target; `value` undefined means it was not measured in this run (not a pass). */
  target(t: Omit<Target, 'pass' | 'value' | 'why'> & { value: number | undefined; hint: string }): void {
    const value = t.value === undefined || Number.isNaN(t.value) ? null : t.value;
    const pass = value !== null && (t.kind === 'min' ? value >= t.limit : value <= t.limit);
    const why = value === null ? 'not measured in this run' : pass ? undefined : t.hint;
    this.targets.push({ id: t.id, text: t.text, value, limit: t.limit, kind: t.kind, pass, ...(why ? { why } : {}) });
  }

  toJSON(): object {
    return {
      date: this.started.toISOString(),
      durationSeconds: Math.round((Date.now() - this.started.getTime()) / 1000),
      scenarioSeconds: this.durations,
      git: gitState(),
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? 'unknown',
        memoryMiB: Math.round(os.totalmem() / 1024 / 1024),
        node: process.version,
        platform: `${os.platform()} ${os.release()}`,
        loadAverageAtEnd: os.loadavg().map((l) => Number(l.toFixed(2))),
      },
      options: this.options,
      measurements: this.measurements.map(roundMeasurement),
      targets: this.targets,
      eventLoop: {
        maxMs: Math.max(0, ...this.eventLoop.map((e) => e.maxMs)),
        byScenario: this.eventLoop,
      },
      notes: this.notes,
    };
  }

  write(file: string): void {
    writeFileSync(file, `${JSON.stringify(this.toJSON(), null, 2)}\n`);
  }

  /** The table of figures and the targets, for the terminal. */
  table(): string {
    const rows = [['scenario', 'subject', 'metric', 'median', 'min–max', 'vs bare']];
    for (const m of this.measurements) {
      rows.push([
        m.scenario,
        m.subject,
        m.metric,
        `${fmt(m.median)} ${m.unit}`,
        m.values.length > 1 ? `${fmt(m.min)}–${fmt(m.max)}` : '',
        m.vsBare === undefined ? '' : `${m.vsBare.toFixed(2)}x`,
      ]);
    }
    const targets = [['target', 'value', 'limit', '']];
    for (const t of this.targets) {
      targets.push([
        t.text,
        t.value === null ? '—' : fmt(t.value),
        `${t.kind === 'min' ? '≥' : '≤'} ${fmt(t.limit)}`,
        t.pass ? 'PASS' : 'FAIL',
      ]);
    }
    const loop = `largest event-loop delay: ${fmt(Math.max(0, ...this.eventLoop.map((e) => e.maxMs)))} ms`;
    return [render(rows), '', render(targets), '', loop, ...this.notes.map((n) => `note: ${n}`)].join('\n');
  }
}

function roundMeasurement(m: Measurement): Measurement {
  const r = (v: number) => Number(v.toPrecision(5));
  return {
    ...m,
    median: r(m.median),
    min: r(m.min),
    max: r(m.max),
    spread: r(m.spread),
    values: m.values.map(r),
    ...(m.vsBare === undefined ? {} : { vsBare: r(m.vsBare) }),
  };
}

function fmt(value: number): string {
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function render(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function gitState(): { commit: string; dirty: boolean } {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const status = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    return { commit, dirty: status.trim() !== '' };
  } catch {
    return { commit: 'unknown', dirty: true };
  }
}
