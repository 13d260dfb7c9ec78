import { formatBytes, Progress } from './progress';

/** What a Progress writes for one item of `bytes` bytes out of `total`, on a terminal or not. */
function output(isTTY: boolean, label: string, total: number, bytes: number, item: string, summary: string): string {
  const out = { isTTY, text: '', write: (s: string) => ((out.text += s), true) };
  const progress = new Progress(label, total, out as unknown as NodeJS.WriteStream);
  progress.advance(bytes);
  progress.item(item);
  progress.finish(summary);
  return out.text;
}

describe('Progress', () => {
  it('redraws one line with bytes, rate and ETA on a terminal', () => {
    const text = output(true, 'migrate', 4096, 1024, 'a', '1 file');
    expect(text).toMatch(/\rmigrate \[#{6}-{18}\] 1\.0 KiB\/4\.0 KiB [\d.]+ \w+\/s ETA \d+s, 1 files /);
    expect(text.split('\n')).toHaveLength(3);
    expect(text).not.toMatch(/migrate: a/);
  });

  it('prints a plain line per file when not on a terminal', () => {
    expect(output(false, 'upload', 10, 10, 'x -> y', '1 files uploaded')).toBe(
      'upload: x -> y (1 done, 10 B)\nupload: 1 files uploaded\n',
    );
  });

  it('formats sizes', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(5 * 1024 ** 3)).toBe('5.0 GiB');
  });
});
