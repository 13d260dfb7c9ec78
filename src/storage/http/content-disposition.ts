// A lone UTF-16 surrogate: a JS string may hold one, UTF-8 cannot (encodeURIComponent throws).
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * A `Content-Disposition` value that no file name can break (RFC 6266 + RFC 5987): an ASCII
 * fallback with quotes, backslashes, `%` and controls replaced, and `filename*` with the UTF-8
 * name percent-encoded, so CR/LF, quotes, `;`, non-ASCII and emoji names are all safe.
 */
export function contentDisposition(type: 'inline' | 'attachment', fileName: string): string {
  const name = fileName.replace(LONE_SURROGATE, '\ufffd').normalize('NFC') || 'file';
  const ascii = name.replace(/[^\x20-\x7e]|["\\%]/g, '_').slice(0, 200);
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${type}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
