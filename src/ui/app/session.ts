/**
 * The token: given once in the form or as `#token=…` in the URL (taken out of the address bar at
 * once), then kept in `sessionStorage` for this tab's session and sent to this service only.
 */

const KEY = 'storage-svc.token';
const INSTANCE_KEY = 'storage-svc.instance';

/** The token of this session: from the URL's fragment (stored, then removed from the URL) or stored before. */
export function takeToken(): string | null {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
  if (fromHash) {
    sessionStorage.setItem(KEY, fromHash);
    history.replaceState(null, '', location.pathname + location.search);
  }
  return sessionStorage.getItem(KEY);
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
