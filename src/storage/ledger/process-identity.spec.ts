import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { isDeadOwner, PROCESS_IDENTITY } from './process-identity';

describe('isDeadOwner', () => {
  const host = hostname().slice(0, 100);
  const deadPid = spawnSync(process.execPath, ['-e', '0']).pid;

  it.each([
    ['this very process', PROCESS_IDENTITY, false],
    [
      'an earlier incarnation of this process (same host and pid, another nonce)',
      `${host}/${process.pid}/000000000000`,
      true,
    ],
    ['a process of this host that has exited', `${host}/${deadPid}/000000000000`, true],
    ['a live process of this host (the parent)', `${host}/${process.ppid}/000000000000`, false],
    ['a process of another host: the lease decides', `elsewhere/${deadPid}/000000000000`, false],
    ['an owner from before owners were recorded', '', false],
    ['a malformed owner', `${host}/not-a-pid/x`, false],
  ])('%s', (_what, owner, dead) => {
    expect(isDeadOwner(owner)).toBe(dead);
  });
});
