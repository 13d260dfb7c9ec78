/**
 * The `Content-Disposition` a signed download asks the backend to answer with: `attachment` and
 * the name as RFC 5987 `filename*` only (every character outside RFC 5987's attr-char set
 * percent-encoded from UTF-8), so no name can add a parameter or a header. Lone surrogates, which
 * UTF-8 cannot hold, become U+FFFD.
 */
export function attachmentDisposition(fileName: string): string {
  const name = fileName.replace(/[\ud800-\udfff]/gu, '\ufffd').normalize('NFC') || 'file';
  const encoded = encodeURIComponent(name).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename*=UTF-8''${encoded}`;
}
