/**
 * Progress of a long command on stderr: a redrawn bar with ETA on a terminal; elsewhere (logs, CI) a line
 * every 5%, at most one every 2 seconds, and always the last one.
 */
export class Progress {
  private readonly started = performance.now();
  private lastDraw = 0;
  private lastStep = -1;
  private drawn = false;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly label: string,
    private readonly unit: string,
  ) {}

  update(done: number, total: number): void {
    const share = total > 0 ? done / total : 1;
    const elapsed = (performance.now() - this.started) / 1000;
    const eta = share > 0 ? (elapsed / share) * (1 - share) : 0;
    if (this.out.isTTY) {
      const now = performance.now();
      if (now - this.lastDraw < 100 && done < total) return;
      this.lastDraw = now;
      const width = 30;
      const filled = Math.round(share * width);
      this.out.write(
        `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(share * 100).toFixed(1)}% ` +
          `${done}/${total} ${this.unit}, ETA ${formatSeconds(eta)}   `,
      );
      this.drawn = true;
    } else {
      const step = Math.floor(share * 20);
      const now = performance.now();
      if (step === this.lastStep || (now - this.lastDraw < 2000 && done < total)) return;
      this.lastStep = step;
      this.lastDraw = now;
      this.out.write(
        `${this.label}: ${step * 5}% (${done}/${total} ${this.unit}), ETA ${formatSeconds(eta)}\n`,
      );
    }
  }

  end(): void {
    if (this.drawn) this.out.write('\n');
    this.drawn = false;
  }
}

function formatSeconds(s: number): string {
  const seconds = Math.round(s);
  return seconds >= 60
    ? `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`
    : `${seconds}s`;
}
