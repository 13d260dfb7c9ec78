import { createHash } from 'node:crypto';

/** Hex md5 of bytes or a string: what ETags and records carry. */
export const md5 = (data: Buffer | string): string => createHash('md5').update(data).digest('hex');

/** `a/b c.txt` → `a/b%20c.txt`, for URLs. */
export const enc = (key: string): string => key.split('/').map(encodeURIComponent).join('/');

/** Polls `check` every 50 ms until it holds (true) or `timeoutMs` passes (false). */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 3000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
