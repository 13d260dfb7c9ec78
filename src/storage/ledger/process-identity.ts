import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/**
 * Who holds an upload pin: `{host}/{pid}/{nonce}`, the nonce made once per process start. A
 * process restarted in the same container often gets the same host name and pid (1): the nonce
 * tells the incarnations apart.
 */
export const PROCESS_IDENTITY = `${hostname().slice(0, 100)}/${process.pid}/${randomBytes(6).toString('hex')}`;

/**
 * Whether the process named `owner` is known to be gone: one on this host whose pid no longer
 * runs, or an earlier incarnation of this very process (same host and pid, another nonce). Pins
 * of other hosts (or of unknown owners, such as pins from before owners were recorded) are never
 * known dead here; their heartbeat lease decides.
 */
export function isDeadOwner(owner: string, self = PROCESS_IDENTITY): boolean {
  const [host, pidText, nonce] = owner.split('/');
  const [selfHost, selfPid] = self.split('/');
  const pid = Number(pidText);
  if (!nonce || host !== selfHost || !Number.isSafeInteger(pid) || pid <= 0) return false;
  if (String(pid) === selfPid) return owner !== self;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
