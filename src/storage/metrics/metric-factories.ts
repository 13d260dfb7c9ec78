import { Counter, Histogram, type Registry } from 'prom-client';

/** A counter registered in `registry` only (never prom-client's global one). */
export function counter<L extends string = never>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
): Counter<L> {
  return new Counter({ name, help, labelNames, registers: [registry] });
}

/** A histogram of seconds registered in `registry` only. */
export function histogram<L extends string = never>(
  registry: Registry,
  name: string,
  help: string,
  buckets: number[],
  labelNames: readonly L[] = [],
): Histogram<L> {
  return new Histogram({ name, help, labelNames, buckets, registers: [registry] });
}
