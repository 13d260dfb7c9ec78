import { DEFAULT_INLINE_TYPES } from '../options/preview.options';
import { isActiveType, isInlineType, looksActive, pdfMatches } from './inline-policy';

describe('isActiveType', () => {
  it.each([
    'text/html',
    'Text/HTML; charset=utf-8',
    'application/xhtml+xml',
    'image/svg+xml',
    'text/xml',
    'application/xml',
    'application/atom+xml',
    'text/xsl',
    'text/javascript',
    'application/javascript',
    'application/x-javascript',
    'application/ecmascript',
    'multipart/x-mixed-replace',
  ])('%s is active', (type) => expect(isActiveType(type)).toBe(true));

  it.each(['image/png', 'text/plain', 'application/pdf', 'video/mp4', 'application/json'])('%s is not', (type) =>
    expect(isActiveType(type)).toBe(false),
  );
});

describe('isInlineType', () => {
  it.each([
    ['image/png', true],
    ['IMAGE/PNG; x=y', true],
    ['video/mp4', true],
    ['audio/ogg', true],
    ['text/plain; charset=utf-8', true],
    ['application/pdf', true],
    ['text/csv', false],
    ['application/octet-stream', false],
    ['image/svg+xml', false],
    ['text/html', false],
  ])('%s → %s with the default allow-list', (type, expected) => {
    expect(isInlineType(type, DEFAULT_INLINE_TYPES)).toBe(expected);
  });
});

describe('looksActive', () => {
  const bytes = (s: string, encoding: BufferEncoding = 'utf8') => Buffer.from(s, encoding);
  it.each([
    ['doctype', bytes('<!DOCTYPE html><p>')],
    ['html', bytes('<html>')],
    ['mixed case', bytes('<HtMl lang="en">')],
    ['script', bytes('<script>alert(1)</script>')],
    ['svg', bytes('<svg onload="x()">')],
    ['xml declaration', bytes('<?xml version="1.0"?><a/>')],
    ['comment', bytes('<!-- x --><b>')],
    ['iframe', bytes('<iframe src=x>')],
    ['after white space', bytes(' \t\r\n <body>')],
    ['after a UTF-8 BOM', bytes('\ufeff<html>')],
    ['UTF-16 LE with BOM', bytes('\ufeff<html>', 'utf16le')],
    ['UTF-16 LE without BOM', bytes('<script>', 'utf16le')],
    ['UTF-16 BE with BOM', Buffer.from(bytes('\ufeff<svg>', 'utf16le').swap16())],
    ['a bare tag', bytes('<a href=x>')],
  ])('%s → active', (_label, head) => expect(looksActive(head)).toBe(true));

  it.each([
    ['empty', Buffer.alloc(0)],
    ['text', bytes('hello <html> later')],
    ['PNG', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])],
    ['JPEG', Buffer.from([0xff, 0xd8, 0xff, 0xe0])],
    ['PDF', bytes('%PDF-1.7')],
    ['JSON', bytes('{"html": "<script>"}')],
    ['a word starting like a tag', bytes('<abbr-less text')],
    ['less-than math', bytes('< 3 apples')],
  ])('%s → inert', (_label, head) => expect(looksActive(head)).toBe(false));
});

describe('pdfMatches', () => {
  it.each([
    ['application/pdf', '%PDF-1.7\n%âãÏÓ', true],
    ['Application/PDF; x=y', '%PDF-2.0', true],
    ['application/pdf', '<html><script>alert(1)</script>', false],
    ['application/pdf', ' %PDF-1.4', false],
    ['application/pdf', '%PDF', false],
    ['application/pdf', '', false],
    ['image/png', 'anything', true],
  ])('%s starting %j: %s', (type, head, expected) => {
    expect(pdfMatches(type, Buffer.from(head, 'latin1'))).toBe(expected);
  });
});
