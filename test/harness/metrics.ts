import type { TestApp } from './test-app';

/** Parses the Prometheus text format into `name{labels}` → value. */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/** The sum of every series of `name` whose labels contain each of `has` (`'code="E_X"'`). */
export function sum(metrics: Map<string, number>, name: string, ...has: string[]): number {
  let total = 0;
  for (const [key, value] of metrics) {
    if ((key === name || key.startsWith(`${name}{`)) && has.every((h) => key.includes(h))) total += value;
  }
  return total;
}

/** `GET /metrics` of a test app (main port), parsed. */
export async function scrape(t: TestApp): Promise<Map<string, number>> {
  return parseMetrics((await t.http.get('/metrics').expect(200)).text);
}

/**
 * How much the series of `name` (with labels `has`) moved while `work` ran, read at `GET /metrics`
 * before and after: `const moved = await movement(t, work); moved('storage_x_total', 'a="b"')`.
 */
export async function movement(
  t: TestApp,
  work: () => Promise<unknown>,
): Promise<(name: string, ...has: string[]) => number> {
  const before = await scrape(t);
  await work();
  const after = await scrape(t);
  return (name, ...has) => sum(after, name, ...has) - sum(before, name, ...has);
}
