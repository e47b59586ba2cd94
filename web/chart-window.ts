/**
 * The stretch of time the detail's charts show, zoomed and panned (pure: no DOM). A window lies within the
 * chart's data (its bounds) and is never shorter than a minimum span; a window that covers the bounds is no
 * zoom at all (`null`).
 */

/** A stretch of time shown on the time axis: from, to, epoch ms. */
export type XWindow = readonly [from: number, to: number];

/** The share of the window one press of an arrow key pans by. */
export const KEY_PAN_SHARE = 0.25;
/** How much one press of + narrows the window (and − widens it). */
export const KEY_ZOOM_FACTOR = 0.5;

const span = (w: XWindow) => w[1] - w[0];

/** The window moved later by `deltaMs` (earlier when negative), kept within `bounds` with its span. */
export function panWindow(win: XWindow, deltaMs: number, bounds: XWindow): XWindow {
  const width = Math.min(span(win), span(bounds));
  const from = Math.min(Math.max(win[0] + deltaMs, bounds[0]), bounds[1] - width);
  return [from, from + width];
}

/**
 * The window scaled by `factor` (below 1 zooms in) around the time `anchor`, which stays where it is on the
 * axis: no shorter than `minSpan`, within `bounds`; `null` when it would cover them (zoomed all the way out).
 */
export function zoomWindow(
  win: XWindow,
  factor: number,
  anchor: number,
  bounds: XWindow,
  minSpan: number,
): XWindow | null {
  const width = Math.max(span(win) * factor, Math.min(minSpan, span(bounds)));
  if (width >= span(bounds)) return null;
  const at = span(win) > 0 ? (anchor - win[0]) / span(win) : 0.5;
  const share = Math.min(Math.max(at, 0), 1);
  return panWindow([anchor - share * width, anchor - share * width + width], 0, bounds);
}

/** The window dragged across a plot `widthPx` wide by `dx` pixels: what was under the pointer stays under it. */
export function dragWindow(win: XWindow, dx: number, widthPx: number, bounds: XWindow): XWindow {
  if (widthPx <= 0) return win;
  return panWindow(win, (-dx / widthPx) * span(win), bounds);
}

/**
 * What a key does to the window of a focused chart: the arrows pan by a quarter of it, + and − zoom around
 * its middle, Escape and 0 show the whole range (`null`); `undefined` for any other key.
 */
export function keyWindow(
  key: string,
  win: XWindow,
  bounds: XWindow,
  minSpan: number,
): XWindow | null | undefined {
  const middle = (win[0] + win[1]) / 2;
  switch (key) {
    case 'ArrowLeft':
      return panWindow(win, -KEY_PAN_SHARE * span(win), bounds);
    case 'ArrowRight':
      return panWindow(win, KEY_PAN_SHARE * span(win), bounds);
    case '+':
    case '=':
      return zoomWindow(win, KEY_ZOOM_FACTOR, middle, bounds, minSpan);
    case '-':
    case '_':
      return zoomWindow(win, 1 / KEY_ZOOM_FACTOR, middle, bounds, minSpan);
    case 'Escape':
    case '0':
      return null;
    default:
      return undefined;
  }
}

/** The factor a wheel or a pinch zooms by: `deltaY` pixels of scroll, up (negative) zooms in. */
export function wheelFactor(deltaY: number): number {
  return Math.exp(Math.max(-500, Math.min(500, deltaY)) * 0.002);
}

/** The shortest window worth zooming to over `points` points from `first` to `last`: two steps, 1 s at least. */
export function minimumSpan(first: number, last: number, points: number): number {
  const step = points > 1 ? (last - first) / (points - 1) : 0;
  return Math.max(1000, 2 * step);
}

/**
 * The gaps of a line: each run of `null` points as the time of the last point before it and of the first
 * after it (a run at either end reaches to the first or last time).
 */
export function gapsOf(ts: ArrayLike<number>, values: ArrayLike<number | null | undefined>): XWindow[] {
  const gaps: XWindow[] = [];
  let before: number | null = null;
  let start: number | null = null;
  for (let i = 0; i < ts.length; i++) {
    const v = values[i];
    const t = ts[i] as number;
    if (v === null) start ??= before ?? t;
    else if (v !== undefined) {
      if (start !== null) gaps.push([start, t]);
      start = null;
      before = t;
    }
  }
  if (start !== null && ts.length > 0) gaps.push([start, ts[ts.length - 1] as number]);
  return gaps;
}
