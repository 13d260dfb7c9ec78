import { StorageErrorCode } from '../errors/storage.error';
import { isMediaType, normalizeMediaType } from './media-type';

// RFC 9110 §8.3.1: media-type = type "/" subtype parameters; parameters of token or quoted-string.
describe('normalizeMediaType', () => {
  it.each([
    ['image/png', 'image/png'],
    ['  text/plain  ', 'text/plain'],
    ['text/plain;charset=utf-8', 'text/plain;charset=utf-8'],
    ['text/plain; charset=utf-8', 'text/plain; charset=utf-8'],
    ['text/plain ; charset=utf-8 ; format=flowed', 'text/plain ; charset=utf-8 ; format=flowed'],
    ['multipart/form-data; boundary="a b;c"', 'multipart/form-data; boundary="a b;c"'],
    ['text/plain; title="say \\"hi\\""', 'text/plain; title="say \\"hi\\""'],
    [
      'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
      'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
    ],
    ["application/x-weird!#$%&'*+-.^_`|~", "application/x-weird!#$%&'*+-.^_`|~"],
    ['text/plain;', 'text/plain;'],
  ])('accepts %j', (input, expected) => {
    expect(normalizeMediaType(input)).toBe(expected);
  });

  it.each([
    ['empty', ''],
    ['no subtype', 'image'],
    ['empty subtype', 'image/'],
    ['two slashes', 'image/png/x'],
    ['space inside', 'image /png'],
    ['newline after', 'text/plain\n'],
    ['CR LF injection', 'text/plain\r\nX-Evil: 1'],
    ['NUL', 'text/plain\u0000'],
    ['tab inside a quoted value', 'text/plain; a="x\ty"'],
    ['DEL in a parameter', 'text/plain; a=\u007f'],
    ['C1 control', 'text/plain; a=\u0085'],
    ['Latin-1 letter (obs-text)', 'text/plain; name=caf\u00e9'],
    ['Latin-1 in a quoted value', 'text/plain; name="caf\u00e9"'],
    ['non-Latin-1', 'text/plain; name=\u65e5\u672c'],
    ['non-Latin-1 type', 'image/p\u0144g'],
    ['lone surrogate', 'text/plain; a=\ud800'],
    ['parameter without value', 'text/plain; charset'],
    ['parameter with empty value', 'text/plain; charset='],
    ['unterminated quote', 'text/plain; a="x'],
    ['a bare separator in a token', 'text/plain; a=b@c'],
    ['over 255 characters', `text/plain; a=${'x'.repeat(250)}`],
    ['not a string', 42],
  ])('refuses %s', (_label, input) => {
    expect(() => normalizeMediaType(input)).toThrow(
      expect.objectContaining({ code: StorageErrorCode.INVALID_ARGUMENT }),
    );
  });

  it('isMediaType agrees without trimming', () => {
    expect(isMediaType('image/png')).toBe(true);
    expect(isMediaType(' image/png')).toBe(false);
    expect(isMediaType('image/png\u00e9')).toBe(false);
    expect(isMediaType(undefined)).toBe(false);
  });
});
