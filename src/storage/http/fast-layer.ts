import type { NextFunction, Request, Response } from 'express';

/**
 * What `StorageFastReads` and `StorageFastUploads` share: finding the module's routes in Express's
 * router, placing one layer of their own among its layers, and decoding a `*path` as Express does.
 */

/** What Express 5 keeps of a middleware or route. */
export interface RouterLayer {
  route?: { path: string; methods: Record<string, boolean> };
  /** Whether the layer's path takes `path` (Express 5's router). */
  match?(path: string): boolean;
}

type Handler = (req: Request, res: Response, next: NextFunction) => void;

/** The router's layers of `app` (Express), or undefined when it is not Express. */
export function routerStack(app: unknown): RouterLayer[] | undefined {
  const stack = (app as { router?: { stack?: RouterLayer[] } } | undefined)?.router?.stack;
  return Array.isArray(stack) && typeof (app as { use?: unknown }).use === 'function' ? stack : undefined;
}

/** The index of the route `{prefix}/{route}` (global prefix or mount path before it) for `method`, or -1. */
export function routeIndex(stack: RouterLayer[], prefix: string, route: string, method: string): number {
  // The last layer of the path and method is the route itself (the module's middleware for it come first).
  return stack.findLastIndex(
    (layer) => layer.route?.path.endsWith(`/${prefix}/${route}`) === true && layer.route.methods[method],
  );
}

/**
 * Adds `handler` to `app` and moves it to `index` of the router's layers; with `ahead`, further
 * forward: past the route layers right before `index` that are the module's (paths under the
 * module's base, `/storage/`, the parent of `ahead.starts`: its routes and the middleware bound
 * to them) or that cannot take a request of `ahead.methods` under `ahead.starts` (other paths or
 * methods). It stops at any other layer, so every middleware that could see the request still
 * runs first.
 */
export function placeLayer(
  app: unknown,
  stack: RouterLayer[],
  handler: Handler,
  index: number,
  ahead?: { starts: string[]; methods: string[] },
): void {
  (app as { use(fn: Handler): void }).use(handler);
  let at = index;
  if (ahead) {
    // `/storage/files/` -> `/storage/`; a path under each start stands for the requests answered.
    const first = ahead.starts[0];
    const base = first.slice(0, first.lastIndexOf('/', first.length - 2) + 1);
    const samples = ahead.starts.map((start) => `${start}x`);
    const skipped = (layer: RouterLayer): boolean => {
      const route = layer.route;
      if (!route) return false;
      if (route.path.startsWith(base)) return true;
      const methods = route.methods as Record<string, boolean | undefined>;
      const takes = methods._all || ahead.methods.some((method) => methods[method]);
      return !takes || (typeof layer.match === 'function' && !samples.some((sample) => layer.match!(sample)));
    };
    while (at > 0 && skipped(stack[at - 1])) at--;
  }
  // `use` appended it.
  stack.splice(at, 0, stack.pop()!);
}

/** What Express hands a `*path` route for `path` under `start`: the decoded segments; null for a bad escape (its 400, not ours). */
export function pathSegments(path: string, start: string): string[] | null {
  try {
    return path.slice(start.length).split('/').map(decodeURIComponent);
  } catch {
    return null;
  }
}
