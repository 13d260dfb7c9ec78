import { LIFECYCLE_DEFAULTS, resolveLifecycleOptions } from './lifecycle.options';

describe('lifecycle options', () => {
  it('fills in the defaults', () => {
    expect(resolveLifecycleOptions(undefined)).toEqual(LIFECYCLE_DEFAULTS);
    expect(resolveLifecycleOptions({ batchSize: 5, sweepCron: undefined })).toEqual({
      ...LIFECYCLE_DEFAULTS,
      batchSize: 5,
    });
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['a zero batch', { batchSize: 0 }, 'lifecycle.batchSize'],
    ['a fractional lease', { uploadLeaseSeconds: 1.5 }, 'lifecycle.uploadLeaseSeconds'],
    ['a negative grace', { orphanGraceSeconds: -1 }, 'lifecycle.orphanGraceSeconds'],
    ['a string flag', { sweepEnabled: 'yes' }, 'lifecycle.sweepEnabled'],
    ['an empty cron', { sweepCron: ' ' }, 'lifecycle.sweepCron'],
  ])('refuses %s, naming the field', (_label, options, field) => {
    expect(() => resolveLifecycleOptions(options)).toThrow(field);
  });
});
