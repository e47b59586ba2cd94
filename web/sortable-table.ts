import { h } from './dom.ts';

/** A column: its heading (with the unit), the value it sorts by, and how a cell shows it. */
export interface Column<R> {
  key: string;
  label: string;
  value: (row: R) => number | string | null;
  /** The cell's content; default: the value as text, an em dash for none. */
  show?: (row: R) => Node | string;
  numeric?: boolean;
}

/**
 * A table sorted by a click on a column's heading (again: the other way); the heading says how it is sorted
 * (`aria-sort`). Rows are given whole; on a phone they stack as cards (`.table.stack`).
 */
export class SortableTable<R> {
  readonly el: HTMLElement;
  private readonly body = h('tbody');
  private readonly heads: HTMLTableCellElement[];
  private rows: R[] = [];

  constructor(
    testid: string,
    caption: string,
    private readonly columns: readonly Column<R>[],
    private sortKey: string,
    private descending = false,
    /** Rows shown at most, the first in the sort order; a long result stays quick to show and to read. */
    private readonly maxRows = Number.POSITIVE_INFINITY,
  ) {
    this.heads = columns.map((c) => {
      const button = h('button', { type: 'button', class: 'sort-button' }, c.label);
      button.addEventListener('click', () => {
        this.descending = this.sortKey === c.key ? !this.descending : Boolean(c.numeric);
        this.sortKey = c.key;
        this.render();
      });
      return h('th', { scope: 'col', class: c.numeric ? 'num' : undefined, 'data-key': c.key }, button);
    });
    this.el = h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'table stack', 'data-testid': testid },
        h('caption', { class: 'visually-hidden' }, caption),
        h('thead', {}, h('tr', {}, ...this.heads)),
        this.body,
      ),
    );
  }

  setRows(rows: R[]): void {
    this.rows = rows;
    this.render();
  }

  private render(): void {
    const column = this.columns.find((c) => c.key === this.sortKey) ?? this.columns[0];
    const sorted = [...this.rows];
    if (column) {
      const sign = this.descending ? -1 : 1;
      sorted.sort((a, b) => {
        const [x, y] = [column.value(a), column.value(b)];
        // No value sorts last either way.
        if (x === null || y === null) return x === y ? 0 : x === null ? 1 : -1;
        return sign * compare(x, y);
      });
    }
    this.heads.forEach((th, i) => {
      const key = this.columns[i]?.key;
      if (key === this.sortKey) th.setAttribute('aria-sort', this.descending ? 'descending' : 'ascending');
      else th.removeAttribute('aria-sort');
    });
    this.body.replaceChildren(
      ...sorted.slice(0, this.maxRows).map((row) =>
        h(
          'tr',
          {},
          ...this.columns.map((c) => {
            const value = c.value(row);
            const shown = c.show ? c.show(row) : value === null ? '—' : String(value);
            return h('td', { class: c.numeric ? 'num' : undefined, 'data-label': c.label }, shown);
          }),
        ),
      ),
    );
  }
}

/** Numbers as numbers, text as text. */
function compare(a: number | string, b: number | string): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b));
}
