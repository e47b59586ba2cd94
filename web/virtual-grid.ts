/**
 * Pure layout of a long list of groups of tiles (the fleet's hosts and their GPUs), for rendering only what is
 * near the viewport. Each group is a header then its tiles in rows of `columns`; every header has the same
 * height, every row of tiles the same pitch (its height plus the gap under it). The view measures these in the
 * page and asks which rows fall in a window of the list; everything above and below is padding.
 */

/** Sizes in CSS pixels, measured in the page. */
export interface GridMetrics {
  columns: number;
  /** A group's header, with its margin. */
  headerHeight: number;
  /** A row of tiles, with the gap under it (the last row of a group has no gap under it). */
  rowPitch: number;
  rowGap: number;
  /** The gap between two groups. */
  groupGap: number;
}

export interface GroupPlace {
  /** Index of the group in the list. */
  group: number;
  /** Top of the group in the list, px. */
  top: number;
  height: number;
  /** Rows of tiles of the group. */
  rows: number;
}

/** Where each group of `counts[i]` tiles lies, and the list's height. */
export function layoutGroups(
  counts: readonly number[],
  m: GridMetrics,
): { groups: GroupPlace[]; height: number } {
  const columns = Math.max(1, m.columns);
  const groups: GroupPlace[] = [];
  let top = 0;
  counts.forEach((count, group) => {
    const rows = Math.ceil(count / columns);
    const height = m.headerHeight + (rows > 0 ? rows * m.rowPitch - m.rowGap : 0);
    groups.push({ group, top, height, rows });
    top += height + m.groupGap;
  });
  return { groups, height: groups.length ? top - m.groupGap : 0 };
}

/** A group in the window: its rows `firstRow` to `endRow` (excluded) are rendered. */
export interface VisibleGroup {
  group: number;
  firstRow: number;
  endRow: number;
}

/** The window of the list to render: the groups that meet it, and padding above and below them. */
export interface GridWindow {
  groups: VisibleGroup[];
  padTop: number;
  padBottom: number;
}

/**
 * The groups and rows of tiles that meet the window `[from, to)` of the list (px from its top; widen it by an
 * overscan beforehand so scrolling shows no blank). A group met only by its header renders no row.
 */
export function visibleWindow(
  layout: { groups: readonly GroupPlace[]; height: number },
  m: GridMetrics,
  from: number,
  to: number,
): GridWindow {
  const groups: VisibleGroup[] = [];
  const list = layout.groups;
  // The first group whose bottom is below `from` (binary search: tops increase).
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const g = list[mid] as GroupPlace;
    if (g.top + g.height <= from) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < list.length; i++) {
    const g = list[i] as GroupPlace;
    if (g.top >= to) break;
    const rowsTop = g.top + m.headerHeight;
    const firstRow = clamp(Math.floor((from - rowsTop) / m.rowPitch), 0, g.rows);
    const endRow = clamp(Math.ceil((to - rowsTop) / m.rowPitch), firstRow, g.rows);
    groups.push({ group: g.group, firstRow, endRow });
  }
  const first = groups[0] ? list[groups[0].group] : undefined;
  const last = groups.at(-1) ? list[(groups.at(-1) as VisibleGroup).group] : undefined;
  const padTop = first ? first.top : Math.min(from, layout.height);
  const padBottom = last ? Math.max(0, layout.height - (last.top + last.height)) : layout.height - padTop;
  return { groups, padTop, padBottom };
}

/** Top of row `row` of group `group` in the list, px. */
export function rowTop(
  layout: { groups: readonly GroupPlace[] },
  m: GridMetrics,
  group: number,
  row: number,
) {
  const g = layout.groups[group];
  return g ? g.top + m.headerHeight + row * m.rowPitch : 0;
}

/**
 * The tile the arrow keys move to from tile `index` of group `group` (`sizes`: the tiles of each group):
 * left and right go along the list, up and down to the same column of the row above or below (across groups),
 * Home and End to the first and last tile. null when there is nowhere to go.
 */
export function moveFocus(
  sizes: readonly number[],
  columns: number,
  at: { group: number; index: number },
  key: 'left' | 'right' | 'up' | 'down' | 'home' | 'end',
): { group: number; index: number } | null {
  const cols = Math.max(1, columns);
  const nonEmpty = (from: number, step: 1 | -1): number => {
    for (let g = from; g >= 0 && g < sizes.length; g += step) if ((sizes[g] ?? 0) > 0) return g;
    return -1;
  };
  const size = sizes[at.group] ?? 0;
  const col = at.index % cols;
  switch (key) {
    case 'home': {
      const g = nonEmpty(0, 1);
      return g < 0 ? null : { group: g, index: 0 };
    }
    case 'end': {
      const g = nonEmpty(sizes.length - 1, -1);
      return g < 0 ? null : { group: g, index: (sizes[g] as number) - 1 };
    }
    case 'right': {
      if (at.index + 1 < size) return { group: at.group, index: at.index + 1 };
      const g = nonEmpty(at.group + 1, 1);
      return g < 0 ? null : { group: g, index: 0 };
    }
    case 'left': {
      if (at.index > 0) return { group: at.group, index: at.index - 1 };
      const g = nonEmpty(at.group - 1, -1);
      return g < 0 ? null : { group: g, index: (sizes[g] as number) - 1 };
    }
    case 'down': {
      const lastRow = Math.floor((size - 1) / cols);
      if (Math.floor(at.index / cols) < lastRow)
        return { group: at.group, index: Math.min(at.index + cols, size - 1) };
      const g = nonEmpty(at.group + 1, 1);
      return g < 0 ? null : { group: g, index: Math.min(col, (sizes[g] as number) - 1) };
    }
    case 'up': {
      if (at.index >= cols) return { group: at.group, index: at.index - cols };
      const g = nonEmpty(at.group - 1, -1);
      if (g < 0) return null;
      const n = sizes[g] as number;
      const lastRowStart = Math.floor((n - 1) / cols) * cols;
      return { group: g, index: Math.min(lastRowStart + col, n - 1) };
    }
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, v));
}
