/** A one-line progress bar with img/s and ETA on a terminal; on a pipe, a line every so often instead. */

export function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '--:--';
  const t = Math.round(s);
  const h = Math.floor(t / 3600);
  const mm = String(Math.floor((t % 3600) / 60)).padStart(2, '0');
  const ss = String(t % 60).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

export class Progress {
  private readonly tty: boolean;
  private lastPrint = 0;
  private readonly t0 = performance.now();

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly everyMs = 10_000,
  ) {
    this.tty = Boolean(stream.isTTY);
  }

  /** `done` of `total` units, `images` processed since start, and an extra note (e.g. the last loss). */
  update(done: number, images: number, note = ''): void {
    const now = performance.now();
    const secs = (now - this.t0) / 1000;
    const rate = secs > 0 ? images / secs : 0;
    const eta = done > 0 ? (secs / done) * (this.total - done) : Number.NaN;
    const width = 24;
    const fill = Math.round((done / Math.max(1, this.total)) * width);
    const line = `${this.label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${done}/${this.total} ${rate.toFixed(1)} img/s ETA ${formatDuration(eta)}${note ? ` ${note}` : ''}`;
    if (this.tty) this.stream.write(`\r${line}\x1b[K`);
    else if (now - this.lastPrint >= this.everyMs || done === this.total) {
      this.stream.write(`${line}\n`);
      this.lastPrint = now;
    }
  }

  done(): void {
    if (this.tty) this.stream.write('\n');
  }
}
