/** `key` with each `/`-separated segment percent-encoded and the slashes kept. */
export function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

/** The URL of `key` under `base` (a CDN or static server in front of the backend), or null without one. */
export function publicUrlOf(base: string | undefined, key: string): string | null {
  return base ? `${base.replace(/\/+$/, '')}/${encodeKey(key)}` : null;
}
