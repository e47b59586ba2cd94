import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type GridMetrics, layoutGroups, moveFocus, rowTop, visibleWindow } from '../../web/virtual-grid.ts';

/** Round sizes: a header of 30 px, rows of 90 px and a 10 px gap (pitch 100), 20 px between groups. */
const M: GridMetrics = { columns: 4, headerHeight: 30, rowPitch: 100, rowGap: 10, groupGap: 20 };

describe('the virtualized grid of the fleet (web/virtual-grid.ts)', () => {
  test('lays out each group as a header then its rows, the gaps between', () => {
    const { groups, height } = layoutGroups([8, 5, 0], M);
    // 8 tiles: 2 rows (30 + 200 - 10 = 220); 5 tiles: 2 rows; no tile: the header alone.
    assert.deepEqual(groups, [
      { group: 0, top: 0, height: 220, rows: 2 },
      { group: 1, top: 240, height: 220, rows: 2 },
      { group: 2, top: 480, height: 30, rows: 0 },
    ]);
    assert.equal(height, 510);
    assert.equal(rowTop({ groups }, M, 1, 1), 240 + 30 + 100);
  });

  test('an empty list is 0 px tall and renders nothing', () => {
    const layout = layoutGroups([], M);
    assert.deepEqual(layout, { groups: [], height: 0 });
    assert.deepEqual(visibleWindow(layout, M, 0, 1000), { groups: [], padTop: 0, padBottom: 0 });
  });

  test('renders only the rows that meet the window, with padding for the rest', () => {
    // 125 hosts of 8 GPUs, 4 columns: each group 30 + 200 - 10 = 220 px, every 240 px.
    const layout = layoutGroups(new Array(125).fill(8), M);
    assert.equal(layout.height, 125 * 240 - 20);
    // A window from the middle of group 10's first row to group 12's header.
    const win = visibleWindow(layout, M, 2400 + 60, 2880 + 10);
    assert.deepEqual(win.groups, [
      { group: 10, firstRow: 0, endRow: 2 },
      { group: 11, firstRow: 0, endRow: 2 },
      { group: 12, firstRow: 0, endRow: 0 },
    ]);
    assert.equal(win.padTop, 2400);
    assert.equal(win.padBottom, layout.height - (2880 + 220));
    // The rendered groups and the padding add up to the list's height (the gaps between groups included).
    const rendered = win.groups.map((g) => layout.groups[g.group]?.height ?? 0).reduce((a, b) => a + b, 0);
    assert.equal(win.padTop + rendered + 20 * (win.groups.length - 1) + win.padBottom, layout.height);
  });

  test('skips the rows above the window inside a tall group', () => {
    const layout = layoutGroups([64], M);
    // Rows 0..15 at 30 + 100 r; a window from 750 to 1000 meets rows 7 to 9.
    assert.deepEqual(visibleWindow(layout, M, 750, 1000).groups, [{ group: 0, firstRow: 7, endRow: 10 }]);
  });

  test('a window past the end renders nothing and pads the whole list above', () => {
    const layout = layoutGroups([8, 8], M);
    const win = visibleWindow(layout, M, 5000, 6000);
    assert.deepEqual(win, { groups: [], padTop: layout.height, padBottom: 0 });
  });

  test('the arrow keys move along the rows and columns, across groups; Home and End to the ends', () => {
    const sizes = [6, 0, 3];
    // Group 0 in 4 columns: row 0 is tiles 0-3, row 1 tiles 4-5. Group 2: tiles 0-2.
    assert.deepEqual(moveFocus(sizes, 4, { group: 0, index: 3 }, 'right'), { group: 0, index: 4 });
    assert.deepEqual(moveFocus(sizes, 4, { group: 0, index: 5 }, 'right'), { group: 2, index: 0 });
    assert.deepEqual(moveFocus(sizes, 4, { group: 2, index: 0 }, 'left'), { group: 0, index: 5 });
    assert.deepEqual(moveFocus(sizes, 4, { group: 0, index: 3 }, 'down'), { group: 0, index: 5 });
    assert.deepEqual(moveFocus(sizes, 4, { group: 0, index: 5 }, 'down'), { group: 2, index: 1 });
    assert.deepEqual(moveFocus(sizes, 4, { group: 2, index: 2 }, 'up'), { group: 0, index: 5 });
    assert.deepEqual(moveFocus(sizes, 4, { group: 2, index: 0 }, 'up'), { group: 0, index: 4 });
    assert.deepEqual(moveFocus(sizes, 4, { group: 0, index: 1 }, 'end'), { group: 2, index: 2 });
    assert.deepEqual(moveFocus(sizes, 4, { group: 2, index: 1 }, 'home'), { group: 0, index: 0 });
    assert.equal(moveFocus(sizes, 4, { group: 0, index: 0 }, 'up'), null);
    assert.equal(moveFocus(sizes, 4, { group: 2, index: 2 }, 'right'), null);
    assert.equal(moveFocus([0, 0], 4, { group: 0, index: 0 }, 'home'), null);
  });
});
