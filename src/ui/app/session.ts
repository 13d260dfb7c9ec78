/**
 * The token: given once in the form or as `#token=…` in the URL (taken out of the address bar at
 * once), then kept in `sessionStorage` for this tab's session and sent to this service only.
 */

const KEY = 'storage-svc.token';
const INSTANCE_KEY = 'storage-svc.instance';

/** A token given as `#token=…`: kept for the session and taken out of the address bar at once (the rest of the fragment stays). */
export function tokenFromHash(): string | null {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get('token');
  if (!token) return null;
  sessionStorage.setItem(KEY, token);
  params.delete('token');
  const rest = params.toString();
  history.replaceState(null, '', location.pathname + location.search + (rest ? `#${rest}` : ''));
  return token;
}

/** The token of this session: from the URL's fragment, or kept before. */
export function takeToken(): string | null {
  return tokenFromHash() ?? sessionStorage.getItem(KEY);
}

export function keepToken(token: string): void {
  sessionStorage.setItem(KEY, token);
}

export function forgetToken(): void {
  sessionStorage.removeItem(KEY);
}

export function keptInstance(): string | null {
  return sessionStorage.getItem(INSTANCE_KEY);
}

export function keepInstance(name: string): void {
  sessionStorage.setItem(INSTANCE_KEY, name);
}

/** The service's base URL with its route prefix: the page is served at `{base}/ui/`. */
export function serviceBaseUrl(): string {
  return new URL('..', location.href).href.replace(/\/$/, '');
}
