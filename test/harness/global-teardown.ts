/** Peers are started and stopped per test file; nothing is left to stop here. */
export default async function globalTeardown(): Promise<void> {}
