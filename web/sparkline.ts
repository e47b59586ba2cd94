import uPlot from 'uplot';
import type { SeriesBuffer } from './series-buffer.ts';

/**
 * A small uPlot line chart of one buffer: no axes or legend, x in epoch ms, `null` points drawn as breaks.
 * Redraws at most once per animation frame however many points arrive.
 */
export class Sparkline {
  private readonly plot: uPlot;
  private pending = false;

  constructor(
    container: HTMLElement,
    private readonly buffer: SeriesBuffer,
    options: { label: string; range: [number, number] | null; scale?: number },
  ) {
    const scale = options.scale ?? 1;
    this.scale = scale;
    this.plot = new uPlot(
      {
        width: Math.max(120, container.clientWidth),
        height: 56,
        ms: 1,
        legend: { show: false },
        cursor: { show: false },
        select: { show: false, left: 0, top: 0, width: 0, height: 0 },
        axes: [{ show: false }, { show: false }],
        scales: {
          x: { time: true },
          y: options.range ? { range: options.range } : { auto: true },
        },
        series: [
          {},
          {
            label: options.label,
            stroke: '#4cc38a',
            fill: 'rgba(76,195,138,0.15)',
            width: 1.5,
            spanGaps: false,
          },
        ],
      },
      this.data(),
      container,
    );
  }

  private readonly scale: number;

  /** Schedules a redraw with the buffer's current points. */
  refresh(): void {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.plot.setData(this.data());
    });
  }

  resize(width: number): void {
    this.plot.setSize({ width: Math.max(120, width), height: 56 });
  }

  destroy(): void {
    this.plot.destroy();
  }

  private data(): uPlot.AlignedData {
    const values =
      this.scale === 1
        ? this.buffer.values
        : this.buffer.values.map((v) => (v === null ? null : v * this.scale));
    return [this.buffer.ts, values];
  }
}
