import { Readable } from 'node:stream';
import { bufferStream, readAll } from '../../../../test/drivers/contract-support';
import { parseInstance } from '../driver-definitions';
import { MemoryDriver } from './memory.driver';

// The shared contract runs against this driver in test/drivers/memory.contract-spec.ts; these are
// the points only an in-memory store can get wrong, and its configuration.
describe('MemoryDriver', () => {
  it('is configured as storages.MemoryType, its public URLs built on publicUrl', async () => {
    const driver = await parseInstance(
      { type: 'storages.MemoryType', publicUrl: 'https://cdn.example/files/' },
      "storages['storages.Memory']",
    ).create({ name: 'storages.Memory', baseDir: '.' });
    expect(driver).toBeInstanceOf(MemoryDriver);
    expect(driver.publicUrl('a b/ü.txt')).toBe('https://cdn.example/files/a%20b/%C3%BC.txt');
  });

  it('keeps its own copy of the bytes put, apart from the buffer the caller passed', async () => {
    const driver = new MemoryDriver();
    const source = Buffer.from('original');
    await driver.put('k', Readable.from([source])); // (bufferStream would copy `source` first)
    source.fill('x');
    expect((await readAll(await driver.get('k'))).toString()).toBe('original');
  });

  it('finishes a read opened before the key is replaced with the bytes it opened', async () => {
    const driver = new MemoryDriver();
    await driver.put('k', bufferStream('first'));
    const opened = await driver.get('k');
    await driver.put('k', bufferStream('second'));
    expect((await readAll(opened)).toString()).toBe('first');
  });
});
