/** How many leading bytes of an object decide whether it is active content. */
export const SNIFF_BYTES = 4096;

// Types a browser renders as a document that can run script, whatever the allow-list says:
// HTML, XHTML, SVG, any XML (XSLT can make HTML of it), JavaScript and its relatives.
const ACTIVE_TYPES = new Set([
  'text/html',
  'text/xml',
  'text/xsl',
  'application/xml',
  'multipart/x-mixed-replace',
  'application/x-shockwave-flash',
]);
const ACTIVE_PATTERN = /\+xml$|script/;

// What a browser's sniffer (WHATWG MIME Sniffing, "HTML" and "XML" rules) or a lenient one takes
// for a document: markup openers after optional BOM and white space, case-insensitive.
const ACTIVE_OPENER =
  /^<(!doctype\s+html|html|head|body|script|iframe|svg|\?xml|xml|style|title|table|div|font|a|b|p|br|h1|img|object|embed|meta|link|base|form|math|xsl:stylesheet)(?=[\s/>]|$)|^<!--/i;

/** The base content type: lower case, parameters dropped (`Text/HTML; charset=x` → `text/html`). */
export function baseType(contentType: string): string {
  return contentType.split(';')[0].trim().toLowerCase();
}

/** True when a browser would run this type as a document (HTML, XHTML, SVG, XML, JavaScript). */
export function isActiveType(contentType: string): boolean {
  const type = baseType(contentType);
  return ACTIVE_TYPES.has(type) || ACTIVE_PATTERN.test(type);
}

/**
 * True when the bytes start like markup, whatever type was declared: what an old or lenient
 * browser would sniff as HTML/XML. Byte order marks, NULs (UTF-16/32 text) and white space
 * before the first `<` are skipped.
 */
export function looksActive(head: Buffer): boolean {
  const text = head
    .subarray(0, SNIFF_BYTES)
    .toString('latin1')
    .replace(/^(\xef\xbb\xbf|\xff\xfe|\xfe\xff)/, '')
    .replaceAll('\u0000', '')
    .replace(/^\s+/, '');
  return ACTIVE_OPENER.test(text.slice(0, 64));
}

/**
 * True when a file declared as a PDF may be shown inline: its bytes start as a PDF does
 * (`%PDF-`). A file that only claims the type (HTML, a script, anything else) is an attachment.
 */
export function pdfMatches(contentType: string, head: Buffer): boolean {
  return baseType(contentType) !== 'application/pdf' || head.subarray(0, 5).toString('latin1') === '%PDF-';
}

/** Whether `contentType` is on the allow-list (`type/*` entries match the whole family). */
export function isInlineType(contentType: string, inlineTypes: readonly string[]): boolean {
  const type = baseType(contentType);
  const family = `${type.split('/')[0]}/*`;
  return inlineTypes.includes(type) || inlineTypes.includes(family);
}
