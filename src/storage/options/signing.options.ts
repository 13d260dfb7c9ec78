/** Signed upload URLs: `signing` in the module options. */
export interface SigningOptions {
  /**
   * HMAC key for the service's own signed upload URLs. Every replica must share it. When unset,
   * the module makes a random one per process (URLs then die with the process).
   */
  secret?: string;
  /** Seconds a signed URL stays valid (default 900; at most 7 days). */
  ttlSeconds?: number;
}

export const SIGNING_DEFAULTS = {
  ttlSeconds: 900,
  maxTtlSeconds: 7 * 86400,
};
