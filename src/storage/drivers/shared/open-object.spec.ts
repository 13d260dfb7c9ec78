import { Readable } from 'node:stream';
import { MemoryDriver } from '../memory/memory.driver';
import type { OpenObject } from '../storage-driver';
import { openObject } from './open-object';

async function text(stream: Readable): Promise<string> {
  let out = '';
  for await (const chunk of stream) out += String(chunk);
  return out;
}

describe('openObject', () => {
  it('on a driver without open: one stat now, the bytes by get only when asked for', async () => {
    const driver = new MemoryDriver();
    await driver.put('k', Readable.from([Buffer.from('hello')]));
    const stat = jest.spyOn(driver, 'stat');
    const get = jest.spyOn(driver, 'get');
    const opened = await openObject(driver, 'k');
    expect({ size: opened.stat.size, stats: stat.mock.calls.length, gets: get.mock.calls.length }).toEqual({
      size: 5,
      stats: 1,
      gets: 0,
    });
    expect(await text(await opened.stream({ start: 1, end: 3 }))).toBe('ell');
    expect(get).toHaveBeenCalledTimes(1);
    expect(stat).toHaveBeenCalledTimes(1);
  });

  it("uses the driver's own open, and no stat, where it has one", async () => {
    const driver = new MemoryDriver();
    const own: OpenObject = {
      stat: { key: 'k', size: 1, lastModified: new Date() },
      stream: async () => Readable.from(['x']),
      close: () => undefined,
    };
    const withOpen = Object.assign(driver, { open: jest.fn(async () => own) });
    const stat = jest.spyOn(driver, 'stat');
    expect(await openObject(withOpen, 'k')).toBe(own);
    expect([withOpen.open.mock.calls.length, stat.mock.calls.length]).toEqual([1, 0]);
  });
});
