/**
 * A one-line progress bar with img/s and ETA on a terminal; on a pipe, a line every so often instead.
 *
 * Steps are recorded for the GPU far faster than it runs them, and the training loop only waits for the GPU when
 * it reads the loss back (every --log-every steps). So the bar moves with the recorded steps, but the rate and the
 * ETA come only from steps whose results were read back: before the first readback there is no rate.
 */

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
  private lastPrint = Number.NEGATIVE_INFINITY;
  private readonly t0: number;
  private done: number;
  private note = '';
  /** Steps and images read back since the start, and when. */
  private confirmed = { steps: 0, images: 0, at: 0 };

  /**
   * @param total steps in all; @param start the step it starts at (a resumed epoch); @param now the clock
   * (injectable for tests).
   */
  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly stream: Pick<NodeJS.WriteStream, 'write' | 'isTTY'> = process.stderr,
    private readonly everyMs = 10_000,
    private readonly start = 0,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tty = Boolean(stream.isTTY);
    this.t0 = now();
    this.done = start;
  }

  /**
   * `done` steps recorded (of `total`), a note such as the running loss, and — after a readback — how many steps
   * and images since the start have finished on the GPU: the rate and ETA are computed from those alone.
   */
  update(done: number, note = this.note, readBack?: { steps: number; images: number }): void {
    this.done = done;
    this.note = note;
    if (readBack) this.confirmed = { ...readBack, at: this.now() };
    this.print();
  }

  /** The line as it is printed now. */
  line(): string {
    const { steps, images, at } = this.confirmed;
    const secs = (at - this.t0) / 1000;
    let speed = '… img/s ETA --:--';
    if (steps > 0 && secs > 0) {
      const remaining = this.total - this.start - steps;
      const eta = (secs / steps) * remaining - (this.now() - at) / 1000;
      speed = `${(images / secs).toFixed(1)} img/s ETA ${formatDuration(Math.max(0, eta))}`;
    }
    const width = 24;
    const fill = Math.round((this.done / Math.max(1, this.total)) * width);
    return `${this.label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${this.done}/${this.total} ${speed}${this.note ? ` ${this.note}` : ''}`;
  }

  private print(): void {
    const now = this.now();
    if (this.tty) {
      this.stream.write(`\r${this.line()}\x1b[K`);
      return;
    }
    // On a pipe: a line every `everyMs`, and one when every step has been read back.
    const last = this.confirmed.steps === this.total - this.start && this.lastPrint < this.confirmed.at;
    if (now - this.lastPrint >= this.everyMs || last) {
      this.stream.write(`${this.line()}\n`);
      this.lastPrint = now;
    }
  }

  /** Ends the bar's line on a terminal. */
  finish(): void {
    if (this.tty) this.stream.write('\n');
  }
}
