import { metricsAuthorized } from './metrics-access';

describe('metricsAuthorized', () => {
  it('lets every request through when no token is configured', () => {
    expect(metricsAuthorized(undefined, undefined)).toBe(true);
    expect(metricsAuthorized('Bearer anything', '')).toBe(true);
  });

  it.each([
    ['Bearer s3cret-token', true],
    ['bearer s3cret-token', true],
    [undefined, false],
    ['', false],
    ['s3cret-token', false],
    ['Bearer ', false],
    ['Bearer s3cret-toke', false],
    ['Bearer s3cret-token2', false],
    ['Basic czNjcmV0LXRva2Vu', false],
  ])('with METRICS_TOKEN set, %p is %p', (header, allowed) => {
    expect(metricsAuthorized(header, 's3cret-token')).toBe(allowed);
  });
});
