import { hideInstanceNames, quoteInput, QUOTED_INPUT_MAX, StorageError, StorageErrorCode } from './storage.error';

describe('quoteInput', () => {
  it('quotes short input whole', () => {
    expect(quoteInput('a/b.txt')).toBe("'a/b.txt'");
  });
  it(`cuts input longer than ${QUOTED_INPUT_MAX} characters with an ellipsis`, () => {
    expect(quoteInput('x'.repeat(5000))).toBe(`'${'x'.repeat(QUOTED_INPUT_MAX)}…'`);
    expect(quoteInput('x'.repeat(QUOTED_INPUT_MAX))).toBe(`'${'x'.repeat(QUOTED_INPUT_MAX)}'`);
  });
  it('never cuts a character in half', () => {
    const quoted = quoteInput('\u{1f600}'.repeat(200));
    expect(quoted).toBe(`'${'\u{1f600}'.repeat(QUOTED_INPUT_MAX)}…'`);
  });
});

describe('StorageError messages quote client input only truncated', () => {
  it.each([
    ['notFound', () => StorageError.notFound('k'.repeat(1000), 'storages.Default')],
    ['unknownStorage', () => StorageError.unknownStorage('s'.repeat(1000), ['storages.A'])],
  ])('%s', (_label, make) => {
    const { message } = make();
    expect(message.length).toBeLessThan(2 * QUOTED_INPUT_MAX + 100);
  });
});

describe('hideInstanceNames', () => {
  it('drops the configured names from an unknown-storage error, keeping the code', async () => {
    const err = await hideInstanceNames(
      Promise.reject(StorageError.unknownStorage('storages.Nope', ['storages.Secret', 'storages.Default'])),
    ).catch((e: unknown) => e as StorageError);
    expect(err).toMatchObject({ code: StorageErrorCode.UNKNOWN_STORAGE, message: "unknown storage 'storages.Nope'" });
  });
  it('passes other outcomes through', async () => {
    await expect(hideInstanceNames(Promise.resolve(1))).resolves.toBe(1);
    const other = StorageError.notFound('a');
    await expect(hideInstanceNames(Promise.reject(other))).rejects.toBe(other);
  });
});
