/**
 * Progress of a long command: on a terminal, one line redrawn in place with bytes, rate and ETA;
 * otherwise (a pipe, a log file) a plain line per finished item, so logs stay readable.
 */
export class Progress {
  private done = 0;
  private items = 0;
  private readonly started = Date.now();
  private lastDraw = 0;

  constructor(
    private readonly label: string,
    private total: number,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {}

  get tty(): boolean {
    return this.out.isTTY === true;
  }

  /** More bytes to do (work found after the start, e.g. files uploaded during a migration). */
  grow(bytes: number): void {
    this.total += bytes;
  }

  /** Bytes moved within the current item. */
  advance(bytes: number): void {
    this.done += bytes;
    if (this.tty && Date.now() - this.lastDraw > 100) this.draw();
  }

  /** One item finished; `what` is its plain line when not on a terminal. */
  item(what: string): void {
    this.items++;
    if (this.tty) this.draw();
    else this.out.write(`${this.label}: ${what} (${this.items} done, ${formatBytes(this.done)})\n`);
  }

  finish(summary: string): void {
    if (this.tty) {
      this.draw();
      this.out.write('\n');
    }
    this.out.write(`${this.label}: ${summary}\n`);
  }

  private draw(): void {
    this.lastDraw = Date.now();
    const seconds = Math.max((Date.now() - this.started) / 1000, 0.001);
    const rate = this.done / seconds;
    const share = this.total > 0 ? Math.min(this.done / this.total, 1) : 0;
    const width = 24;
    const bar = '#'.repeat(Math.round(share * width)).padEnd(width, '-');
    const eta = rate > 0 ? Math.ceil((this.total - this.done) / rate) : 0;
    this.out.write(
      `\r${this.label} [${bar}] ${formatBytes(this.done)}/${formatBytes(this.total)} ${formatBytes(rate)}/s ETA ${eta}s, ${this.items} files `,
    );
  }
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}
