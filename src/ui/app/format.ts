/** Pure formatting for the page: sizes, times, the expiry column. */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** `1536` → `1.5 KiB`; bytes as whole numbers. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

const SPANS: Array<[number, string]> = [
  [86_400_000, 'day'],
  [3_600_000, 'hour'],
  [60_000, 'minute'],
];

/** How long until `at` (ms since the epoch) from `now`, in the largest whole unit: `in 3 hours`. */
export function formatExpiry(at: number | null, now: number): string {
  if (at === null) return 'never';
  const left = at - now;
  if (left <= 0) return 'expired';
  for (const [span, unit] of SPANS) {
    const count = Math.floor(left / span);
    if (count >= 1) return `in ${count} ${unit}${count === 1 ? '' : 's'}`;
  }
  return 'in under a minute';
}

/** `2026-11-29 12:15` in the browser's time zone. */
export function formatTime(at: number): string {
  const date = new Date(at);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** A progress bar's text: `42% · 8.4 MiB of 20 MiB`. */
export function formatProgress(sent: number, total: number): string {
  const percent = total > 0 ? Math.floor((sent / total) * 100) : 100;
  return `${percent}% · ${formatBytes(sent)} of ${formatBytes(total)}`;
}
