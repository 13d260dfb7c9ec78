import { formatBytes, Progress } from './progress';

function sink(isTTY: boolean): NodeJS.WriteStream & { text: string } {
  const out = { isTTY, text: '', write: (s: string) => ((out.text += s), true) };
  return out as unknown as NodeJS.WriteStream & { text: string };
}

describe('Progress', () => {
  it('redraws one line with bytes, rate and ETA on a terminal', () => {
    const out = sink(true);
    const progress = new Progress('migrate', 4096, out);
    progress.advance(1024);
    progress.item('a');
    progress.finish('1 file');
    expect(out.text).toMatch(/\rmigrate \[#{6}-{18}\] 1\.0 KiB\/4\.0 KiB [\d.]+ \w+\/s ETA \d+s, 1 files /);
    expect(out.text.split('\n')).toHaveLength(3);
    expect(out.text).not.toMatch(/migrate: a/);
  });

  it('prints a plain line per file when not on a terminal', () => {
    const out = sink(false);
    const progress = new Progress('upload', 10, out);
    progress.advance(10);
    progress.item('x -> y');
    progress.finish('1 files uploaded');
    expect(out.text).toBe('upload: x -> y (1 done, 10 B)\nupload: 1 files uploaded\n');
  });

  it('formats sizes', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(5 * 1024 ** 3)).toBe('5.0 GiB');
  });
});
