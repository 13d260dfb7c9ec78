/**
 * The time source for expiry, leases and grace periods, in epoch milliseconds. Injected so that
 * tests can move time forward instead of sleeping; the default is the system clock.
 */
export interface Clock {
  now(): number;
}

/** DI token of the `Clock` (an interface and a token of the same name, as `nestjs/throttler` does). */
export const Clock = Symbol('StorageClock');

export const systemClock: Clock = { now: () => Date.now() };
