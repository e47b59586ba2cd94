import uPlot from 'uplot';
import {
  dragWindow,
  gapsOf,
  keyWindow,
  minimumSpan,
  panWindow,
  wheelFactor,
  type XWindow,
  zoomWindow,
} from './chart-window.ts';
import type { SeriesBuffer } from './series-buffer.ts';
import type { ThrottleLane } from './throttle-track.ts';
import type { DisplayUnit } from './units.ts';

export interface ChartLine {
  label: string;
  /** Its points, asked at every redraw: a `SeriesBuffer`, or the range's with a zoomed window's finer buckets. */
  points: () => LinePoints;
  /** The CSS variable of its colour (`--series-1`); a dashed line when `dash` (a limit, a total). */
  color: string;
  dash?: boolean;
  /**
   * Each bucket's min and max, drawn as a light band of its colour behind the line, in the legend as one
   * "min–max" entry; asked at every redraw (null or no points: no band, as for live samples).
   */
  band?: () => BandPoints | null;
}

/** A line's points: times, values (`null`: a gap). */
export interface LinePoints {
  ts: number[];
  values: (number | null)[];
}

/** A band's points: times, each one's min and max (`null`: a gap). */
export interface BandPoints {
  ts: number[];
  min: (number | null)[];
  max: (number | null)[];
}

/** A stretch of time marked behind the lines (an alert episode): from, to, epoch ms. */
export interface TimeMark {
  from: number;
  to: number;
}

/** What a chart draws besides its lines, asked at every draw. */
export interface ChartOverlays {
  /** Stretches marked behind the lines, full height (alert episodes). */
  marks?: () => readonly TimeMark[];
  /** Lanes along the bottom of the plot, one per throttle reason, coloured `--throttle-<key>`. */
  lanes?: () => readonly ThrottleLane[];
  /** The line under the chart for the time under the cursor (null: away); nothing drawn without it. */
  describe?: (ts: number | null) => string;
}

/**
 * How a chart's time window is shared: the user's zoom and pan of one chart is asked of `request`, which sets
 * it on every chart of the group (`setWindow`), this one included; `null` is the whole range.
 */
export interface ChartZoom {
  request(win: XWindow | null): void;
  /** The chart's name for assistive technology ("Power against the limit"). */
  label: string;
}

/** uPlot.join: keep a series' own nulls (gaps), fill the times only other series have with nothing. */
const NULL_RETAIN = 1 as uPlot.JoinNullMode;

const HEIGHT = 180;
/** A throttle lane's height, CSS px. */
const LANE_HEIGHT = 5;

/**
 * A time-series chart of one or more lines in the same unit: a time axis, a value axis labelled with the unit,
 * a legend that shows the time and exact values under the cursor. Zoom: drag across it, Ctrl+wheel or a pinch
 * around the pointer, + and − when focused; pan when zoomed: Shift+drag or the middle button, a sideways
 * scroll, the left and right arrows; double-click or Escape shows the whole range. A `null` point is a gap in
 * its line. Redraws at most once per animation frame however many points arrive. What it shows is in its
 * container's data: `xMin`, `xMax`, `yMin`, `yMax` (the scales), `gaps` (its first line's, `from-to,…`).
 */
export class TimeChart {
  private readonly plot: uPlot;
  private pending = false;
  private readonly scheme = matchMedia('(prefers-color-scheme: dark)');
  private readonly onScheme = () => this.plot.redraw();
  /** The window the user zoomed to (null: the whole range): live points then leave it alone. */
  private window: XWindow | null = null;
  /** A Shift+drag or middle-button drag under way: where it started, and the window then. */
  private panning: { x: number; win: XWindow } | null = null;
  private readonly marks: () => readonly TimeMark[];
  /** The line under the chart naming what the cursor's time was throttled by. */
  private readonly note: HTMLElement | null = null;
  /** The lines with a band: the line's index and its min and max series' (in uPlot's series, after the lines). */
  private readonly bands: { line: ChartLine; minIdx: number; maxIdx: number }[] = [];

  constructor(
    readonly container: HTMLElement,
    private readonly lines: readonly ChartLine[],
    private readonly unit: DisplayUnit,
    range: readonly [number, number] | null,
    private readonly overlays: ChartOverlays = {},
    private readonly zoom: ChartZoom = { request: (win) => this.setWindow(win), label: 'Chart' },
  ) {
    this.marks = overlays.marks ?? (() => []);
    container.dataset.unit = unit.label;
    // Colours are read from the theme's CSS variables at every draw, so a theme change needs only a redraw.
    const axis = {
      stroke: themeColor('--muted'),
      grid: { stroke: themeColor('--line'), width: 1 },
      ticks: { stroke: themeColor('--line') },
    };
    const format = (v: number | null | undefined) =>
      v === null || v === undefined ? '—' : `${v.toFixed(unit.digits)} ${unit.label}`;
    // Each band's min and max come after the lines: uPlot scales the value axis to them, the legend shows them
    // as one entry ("GPU min–max: 12 – 80 %"); they draw nothing themselves (drawBands does, behind the lines).
    let next = lines.length + 1;
    for (const line of lines) {
      if (!line.band) continue;
      this.bands.push({ line, minIdx: next, maxIdx: next + 1 });
      next += 2;
    }
    const bandSeries = this.bands.flatMap(({ line, minIdx }) => {
      const common = { stroke: themeColor(line.color), width: 0, paths: () => null, points: { show: false } };
      return [
        { ...common, label: `${line.label} min` },
        {
          ...common,
          label: `${line.label} min–max`,
          value: (u: uPlot, _v: number | null, _si: number, idx: number | null) => {
            const min = idx === null ? null : u.data[minIdx]?.[idx];
            const max = idx === null ? null : u.data[minIdx + 1]?.[idx];
            if (min === null || min === undefined || max === null || max === undefined) return '—';
            return `${min.toFixed(unit.digits)} – ${max.toFixed(unit.digits)} ${unit.label}`;
          },
        },
      ];
    });
    this.plot = new uPlot(
      {
        width: this.width(),
        height: HEIGHT,
        ms: 1,
        // Room on the right for the last time label.
        padding: [10, 28, 0, 0],
        cursor: {
          // A selection asks for its window (setSelect below) rather than setting this chart's scale.
          drag: { x: true, y: false, setScale: false },
          bind: {
            // Shift+drag pans (see onPointerDown); a plain drag selects.
            mousedown: (_u, _t, handler) => (e) => (e.button === 0 && !e.shiftKey ? handler(e) : null),
            dblclick: () => (e) => {
              if (e.button === 0) this.zoom.request(null);
              return null;
            },
          },
        },
        legend: { live: true },
        scales: {
          x: { time: true },
          y: range
            ? { range: [range[0], range[1]] }
            : { range: (_u, min, max) => [Math.min(0, min ?? 0), niceMax(max ?? 1)] },
        },
        axes: [
          {
            ...axis,
            values: (u, splits) => timeTicks(splits, (u.scales.x?.max ?? 0) - (u.scales.x?.min ?? 0)),
            space: (_u, _axis, min, max) => timeTickSpace(max - min),
          },
          {
            ...axis,
            label: unit.label,
            size: 56,
            values: (_u, splits) => splits.map((v) => trimNumber(v)),
          },
        ],
        series: [
          { label: 'time', value: '{YYYY}-{MM}-{DD} {HH}:{mm}:{ss}' },
          ...lines.map((line) => ({
            label: line.label,
            stroke: themeColor(line.color),
            width: 1.5,
            dash: line.dash ? [6, 4] : undefined,
            spanGaps: false,
            value: (_u: uPlot, v: number | null) => format(v),
          })),
          ...bandSeries,
        ],
        hooks: {
          // Marks go under the lines: drawn once the canvas is cleared, before the series.
          drawClear: [
            (u) => {
              this.drawMarks(u);
              this.drawBands(u);
              this.drawLanes(u);
            },
          ],
          // Away from the chart, the legend shows the latest values rather than nothing.
          setCursor: [
            (u) => {
              const away = u.cursor.idx === null || u.cursor.idx === undefined;
              if (away) this.showLatest(u);
              this.describe(away || (u.cursor.left ?? -1) < 0 ? null : u.posToVal(u.cursor.left ?? 0, 'x'));
            },
          ],
          setSelect: [
            (u) => {
              const { left, width } = u.select;
              u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
              if (width < 2) return;
              const bounds = this.bounds();
              if (!bounds) return;
              const from = u.posToVal(left, 'x');
              const win = zoomWindow([from, u.posToVal(left + width, 'x')], 1, from, bounds, this.minSpan());
              this.zoom.request(win);
            },
          ],
          draw: [(u) => this.noteScales(u)],
        },
      },
      this.data(),
      container,
    );
    this.showBandLegend();
    if (overlays.describe) {
      this.note = document.createElement('p');
      this.note.className = 'chart-note';
      this.note.dataset.testid = 'chart-note';
      container.append(this.note);
      this.describe(null);
    }
    this.scheme.addEventListener('change', this.onScheme);
    container.tabIndex = 0;
    container.setAttribute('role', 'group');
    container.setAttribute(
      'aria-label',
      `${this.zoom.label} chart: + and − zoom, the arrow keys pan, Escape shows the whole range`,
    );
    container.addEventListener('keydown', (e) => this.onKey(e));
    this.plot.over.addEventListener('mousedown', (e) => this.onPointerDown(e));
    this.plot.over.addEventListener('wheel', (e) => this.onWheel(e), { passive: false });
  }

  /** Shows `win` (null: the whole range), as the group asks; the user's zoom and pan go through `zoom.request`. */
  setWindow(win: XWindow | null): void {
    this.window = win;
    if (win) {
      this.container.dataset.zoomed = 'true';
      this.plot.setScale('x', { min: win[0], max: win[1] });
    } else {
      delete this.container.dataset.zoomed;
      const bounds = this.bounds();
      if (bounds) this.plot.setScale('x', { min: bounds[0], max: bounds[1] });
    }
  }

  /** The times of the chart's data, first and last; null without two points. */
  private bounds(): XWindow | null {
    const ts = this.plot.data[0];
    const first = ts[0];
    const last = ts[ts.length - 1];
    return first !== undefined && last !== undefined && last > first ? [first, last] : null;
  }

  private minSpan(): number {
    const bounds = this.bounds();
    return bounds ? minimumSpan(bounds[0], bounds[1], this.plot.data[0].length) : 2000;
  }

  /** The window shown now: the zoomed one, else the whole range. */
  private shown(): XWindow | null {
    return this.window ?? this.bounds();
  }

  private onKey(e: KeyboardEvent): void {
    const win = this.shown();
    const bounds = this.bounds();
    if (!win || !bounds || e.altKey || e.ctrlKey || e.metaKey) return;
    const next = keyWindow(e.key, win, bounds, this.minSpan());
    if (next === undefined) return;
    e.preventDefault();
    this.zoom.request(next);
  }

  /** Shift+drag or the middle button: the plot follows the pointer while zoomed. */
  private onPointerDown(e: MouseEvent): void {
    const win = this.window;
    if (!((e.button === 0 && e.shiftKey) || e.button === 1)) return;
    e.preventDefault();
    if (!win) return;
    this.panning = { x: e.clientX, win };
    this.container.dataset.panning = 'true';
    const move = (m: MouseEvent) => {
      const bounds = this.bounds();
      if (!this.panning || !bounds) return;
      const width = this.plot.over.getBoundingClientRect().width;
      this.zoom.request(dragWindow(this.panning.win, m.clientX - this.panning.x, width, bounds));
    };
    const up = () => {
      this.panning = null;
      delete this.container.dataset.panning;
      document.removeEventListener('mousemove', move);
      document.removeEventListener('mouseup', up);
    };
    document.addEventListener('mousemove', move);
    document.addEventListener('mouseup', up);
  }

  /**
   * Ctrl (or ⌘) + wheel, and a trackpad's pinch, zoom around the pointer; a sideways scroll (or Shift+wheel)
   * pans a zoomed chart. A plain wheel scrolls the page: the detail is a column of charts.
   */
  private onWheel(e: WheelEvent): void {
    const win = this.shown();
    const bounds = this.bounds();
    if (!win || !bounds) return;
    const px = e.deltaMode === WheelEvent.DOM_DELTA_LINE ? 16 : 1;
    const rect = this.plot.over.getBoundingClientRect();
    if (e.ctrlKey || e.metaKey) {
      e.preventDefault();
      const anchor = this.plot.posToVal(e.clientX - rect.left, 'x');
      this.zoom.request(zoomWindow(win, wheelFactor(e.deltaY * px), anchor, bounds, this.minSpan()));
      return;
    }
    const sideways = Math.abs(e.deltaX) > Math.abs(e.deltaY) ? e.deltaX : e.shiftKey ? e.deltaY : 0;
    if (!this.window || sideways === 0) return;
    e.preventDefault();
    this.zoom.request(panWindow(win, (sideways * px * (win[1] - win[0])) / rect.width, bounds));
  }

  /** The scales and the first line's gaps as drawn, in the container's data. */
  private noteScales(u: uPlot): void {
    const data = this.container.dataset;
    const { x, y } = u.scales;
    data.xMin = String(Math.round(x?.min ?? 0));
    data.xMax = String(Math.round(x?.max ?? 0));
    data.yMin = String(y?.min ?? 0);
    data.yMax = String(y?.max ?? 0);
    data.gaps = gapsOf(u.data[0], u.data[1] ?? [])
      .map(([from, to]) => `${from}-${to}`)
      .join(',');
  }

  private drawMarks(u: uPlot): void {
    const { left, top, width, height } = u.bbox;
    const ctx = u.ctx;
    let drawn = 0;
    ctx.save();
    ctx.fillStyle = themeColor('--bad')();
    ctx.globalAlpha = 0.18;
    for (const mark of this.marks()) {
      const x0 = Math.max(left, u.valToPos(mark.from, 'x', true));
      const x1 = Math.min(left + width, u.valToPos(mark.to, 'x', true));
      if (x1 < left || x0 > left + width) continue;
      // A one-sample episode still shows: at least 2 px wide.
      ctx.fillRect(x0, top, Math.max(2 * devicePixelRatio, x1 - x0), height);
      drawn++;
    }
    ctx.restore();
    this.container.dataset.marks = String(drawn);
  }

  /**
   * Each band: between its min and max, a light fill of its line's colour, broken where either is `null` (a
   * time only other lines have, `undefined`, is passed over). The points drawn are in the container's data.
   */
  private drawBands(u: uPlot): void {
    if (this.bands.length === 0) return;
    const { left, top, width, height } = u.bbox;
    const ctx = u.ctx;
    const ts = u.data[0];
    const x0 = u.scales.x?.min ?? Number.NEGATIVE_INFINITY;
    const x1 = u.scales.x?.max ?? Number.POSITIVE_INFINITY;
    let drawn = 0;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, width, height);
    ctx.clip();
    ctx.globalAlpha = 0.2;
    for (const band of this.bands) {
      const mins = u.data[band.minIdx] ?? [];
      const maxs = u.data[band.maxIdx] ?? [];
      ctx.fillStyle = themeColor(band.line.color)();
      let run: number[] = [];
      const flush = () => {
        const x = (i: number) => u.valToPos(ts[i] as number, 'x', true);
        const y = (v: number | null | undefined) => u.valToPos(v as number, 'y', true);
        if (run.length === 1) {
          // A lone bucket between gaps: 2 px wide, still seen.
          const i = run[0] as number;
          ctx.fillRect(x(i), y(maxs[i]), 2 * devicePixelRatio, y(mins[i]) - y(maxs[i]));
        } else if (run.length > 1) {
          ctx.beginPath();
          ctx.moveTo(x(run[0] as number), y(maxs[run[0] as number]));
          for (const i of run) ctx.lineTo(x(i), y(maxs[i]));
          for (const i of [...run].reverse()) ctx.lineTo(x(i), y(mins[i]));
          ctx.closePath();
          ctx.fill();
        }
        run = [];
      };
      for (let i = 0; i < ts.length; i++) {
        const lo = mins[i];
        const hi = maxs[i];
        if (lo === undefined && hi === undefined) continue;
        if (lo === null || hi === null || lo === undefined || hi === undefined) {
          flush();
          continue;
        }
        run.push(i);
        const t = ts[i] as number;
        if (t >= x0 && t <= x1) drawn++;
      }
      flush();
    }
    ctx.restore();
    this.container.dataset.bandPoints = String(drawn);
  }

  /** The min series' legend entries hidden, each band's "min–max" one shown while it has points. */
  private showBandLegend(): void {
    const rows = this.plot.root.querySelectorAll<HTMLElement>('.u-legend .u-series');
    for (const band of this.bands) {
      const has = (this.plot.data[band.maxIdx] ?? []).some((v) => v !== null && v !== undefined);
      const min = rows[band.minIdx];
      const max = rows[band.maxIdx];
      if (min) min.style.display = 'none';
      if (max) max.style.display = has ? '' : 'none';
    }
  }

  /** Each throttle reason's lane along the bottom of the plot, its marks as opaque as the share of samples. */
  private drawLanes(u: uPlot): void {
    const lanes = this.overlays.lanes?.() ?? [];
    const { left, top, width, height } = u.bbox;
    const ctx = u.ctx;
    const laneHeight = LANE_HEIGHT * devicePixelRatio;
    let drawn = 0;
    ctx.save();
    lanes.forEach((lane, k) => {
      const y = top + height - (k + 1) * laneHeight;
      ctx.fillStyle = themeColor(`--throttle-${lane.reason.key}`, this.container)();
      for (const mark of lane.marks) {
        const x0 = Math.max(left, u.valToPos(mark.from, 'x', true));
        const x1 = Math.min(left + width, u.valToPos(mark.to, 'x', true));
        if (x1 < left || x0 > left + width) continue;
        ctx.globalAlpha = 0.35 + 0.65 * mark.share;
        ctx.fillRect(x0, y, Math.max(devicePixelRatio, x1 - x0), laneHeight - devicePixelRatio);
        drawn++;
      }
    });
    ctx.restore();
    this.container.dataset.lanes = String(lanes.length);
    this.container.dataset.laneMarks = String(drawn);
  }

  private describe(ts: number | null): void {
    if (!this.note || !this.overlays.describe) return;
    const text = this.overlays.describe(ts);
    if (this.note.textContent !== text) this.note.textContent = text;
  }

  private showLatest(u: uPlot): void {
    const last = (u.data[0]?.length ?? 0) - 1;
    if (last >= 0) u.setLegend({ idx: last }, false);
  }

  /** Schedules a redraw with the buffers' current points. */
  refresh(): void {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.plot.setData(this.data(), !this.window);
      this.showBandLegend();
      if (this.plot.cursor.idx === null || this.plot.cursor.idx === undefined) this.showLatest(this.plot);
    });
  }

  fit(): void {
    this.plot.setSize({ width: this.width(), height: HEIGHT });
  }

  destroy(): void {
    this.scheme.removeEventListener('change', this.onScheme);
    this.plot.destroy();
  }

  private width(): number {
    return Math.max(240, this.container.clientWidth);
  }

  private data(): uPlot.AlignedData {
    return alignedData(
      this.lines.map((line) => line.points()),
      this.unit.scale,
      this.bands.map((band) => band.line.band?.() ?? null),
    );
  }
}

/**
 * uPlot's data for lines of `buffers`, values times `scale`: one time column for all, each buffer's own `null`
 * points kept (a gap in its line), a time only another buffer has left empty (`undefined`: the line goes on);
 * then each band's min and max columns (a band without points: all empty).
 */
export function alignedData(
  buffers: readonly Pick<SeriesBuffer, 'ts' | 'values'>[],
  scale: number,
  bands: readonly (BandPoints | null)[] = [],
): uPlot.AlignedData {
  const scaled = (values: (number | null)[]) =>
    scale === 1 ? values : values.map((v) => (v === null ? null : v * scale));
  const tables = buffers.map((buffer): uPlot.AlignedData => [buffer.ts, scaled(buffer.values)]);
  for (const band of bands) {
    tables.push(band ? [band.ts, scaled(band.min), scaled(band.max)] : [[], [], []]);
  }
  if (tables.length === 1) return tables[0] as uPlot.AlignedData;
  return uPlot.join(
    tables,
    tables.map((t) => t.slice(1).map(() => NULL_RETAIN)),
  );
}

/** The top of a value axis: the maximum rounded up to 1, 2 or 5 times a power of ten. */
export function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 5, 10]) if (step * power >= max) return step * power;
  return 10 * power;
}

/** A colour from a CSS variable of the page's theme (of `el`, else the page's), read when uPlot draws. */
function themeColor(variable: string, el: Element = document.documentElement): () => string {
  return () => getComputedStyle(el).getPropertyValue(variable).trim() || '#888';
}

const pad = (n: number) => String(n).padStart(2, '0');

/** Time axis labels in 24-hour local time: seconds within 10 minutes, the date beyond a day. */
export function timeTicks(splits: readonly number[], spanMs: number): string[] {
  return splits.map((ms) => {
    const d = new Date(ms);
    const time = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
    if (spanMs <= 10 * 60_000) return `${time}:${pad(d.getSeconds())}`;
    if (spanMs > 24 * 3_600_000) return `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
    return time;
  });
}

/** The least room between time labels, CSS px: as wide as the labels `timeTicks` writes for the span, and a gap. */
export function timeTickSpace(spanMs: number): number {
  if (spanMs <= 10 * 60_000) return 72; // 14:47:30
  if (spanMs > 24 * 3_600_000) return 100; // 12-05 14:47
  return 50; // 14:47
}

function trimNumber(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(Math.abs(v) < 1 ? 2 : 1);
}
