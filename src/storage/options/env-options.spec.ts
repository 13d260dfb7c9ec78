import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { lifecycleFromEnv, signingFromEnv } from './env-options';

describe('lifecycle and signing configuration from the environment', () => {
  it('reads the environment over the config files', () => {
    const files = { sweepCron: '0 * * * *', batchSize: 50 };
    expect(
      lifecycleFromEnv({ SWEEP_ENABLED: 'false', SWEEP_BATCH_SIZE: '20', ORPHAN_GRACE_SECONDS: '0' }, files),
    ).toEqual({ sweepCron: '0 * * * *', batchSize: 20, sweepEnabled: false, orphanGraceSeconds: 0 });
    expect(lifecycleFromEnv({ SWEEP_CRON: '*/10 * * * *', RECONCILE_ENABLED: 'on' })).toEqual({
      sweepCron: '*/10 * * * *',
      reconcileEnabled: true,
    });
  });

  it.each([
    ['SWEEP_ENABLED', 'maybe'],
    ['SWEEP_BATCH_SIZE', 'ten'],
    ['UPLOAD_LEASE_SECONDS', '-5'],
  ])('refuses %s=%s, naming the variable', (name, value) => {
    expect(() => lifecycleFromEnv({ [name]: value })).toThrow(name);
  });

  it('keeps one signing secret in DATA_DIR unless SIGNING_SECRET is set', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signing-'));
    try {
      const first = signingFromEnv({}, dir).secret;
      expect(first).toMatch(/^[\w-]{43}$/);
      expect(signingFromEnv({}, dir).secret).toBe(first);
      expect(signingFromEnv({ SIGNING_SECRET: 'from-the-environment', SIGNED_URL_TTL: '60' }, dir)).toEqual({
        secret: 'from-the-environment',
        ttlSeconds: 60,
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
