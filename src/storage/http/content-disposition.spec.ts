import { contentDisposition } from './content-disposition';

/** What a client recovers from `filename*` (RFC 5987). */
function decoded(header: string): string {
  return decodeURIComponent(/filename\*=UTF-8''([^;\s]+)$/.exec(header)![1]);
}

describe('contentDisposition', () => {
  it.each([
    ['plain', 'report.pdf', 'report.pdf', 'report.pdf'],
    ['space', 'my file.txt', 'my file.txt', 'my%20file.txt'],
    ['quotes', 'say "hi".txt', 'say _hi_.txt', 'say%20%22hi%22.txt'],
    ['CR/LF', 'a\r\nX-Evil: 1.txt', 'a__X-Evil: 1.txt', 'a%0D%0AX-Evil%3A%201.txt'],
    ['semicolon', 'a;b=c.txt', 'a;b=c.txt', 'a%3Bb%3Dc.txt'],
    ['backslash', 'a\\b.txt', 'a_b.txt', 'a%5Cb.txt'],
    ['percent', '100%.txt', '100_.txt', '100%25.txt'],
    ['apostrophe and parentheses', "it's (1)*.txt", "it's (1)*.txt", 'it%27s%20%281%29%2A.txt'],
    ['non-ASCII', 'Größe.txt', 'Gr__e.txt', 'Gr%C3%B6%C3%9Fe.txt'],
    ['CJK', '报告.txt', '__.txt', '%E6%8A%A5%E5%91%8A.txt'],
    ['emoji', '🎉.txt', '__.txt', '%F0%9F%8E%89.txt'],
    ['NFD input', 'Cafe\u0301.txt', 'Caf_.txt', 'Caf%C3%A9.txt'],
    ['empty', '', 'file', 'file'],
  ])('%s', (_label, name, ascii, encoded) => {
    const header = contentDisposition('attachment', name);
    expect(header).toBe(`attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`);
    expect(header).toMatch(/^[\x20-\x7e]+$/);
    expect(decoded(header)).toBe((name || 'file').normalize('NFC'));
  });

  it('replaces a lone surrogate instead of throwing', () => {
    const header = contentDisposition('inline', 'a\ud800b.txt');
    expect(header).toBe(`inline; filename="a_b.txt"; filename*=UTF-8''a%EF%BF%BDb.txt`);
  });

  it('keeps the ASCII fallback short', () => {
    const header = contentDisposition('inline', `${'x'.repeat(500)}.txt`);
    expect(/filename="([^"]*)"/.exec(header)![1]).toHaveLength(200);
    expect(decoded(header)).toBe(`${'x'.repeat(500)}.txt`);
  });
});
