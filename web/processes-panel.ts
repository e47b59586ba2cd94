import type { GpuProcessesResponse, ProcessView } from '../src/server/api-types.ts';
import { api } from './api.ts';
import { h, setText } from './dom.ts';
import { dateTime, gib } from './format.ts';
import { type Column, SortableTable } from './sortable-table.ts';

/** The processes are asked again this often while the detail is shown and the page visible. */
export const PROCESSES_REFRESH_MS = 5000;

/**
 * The processes using one GPU now (GET /api/gpus/:uuid/processes): pid, name, memory and its share of the
 * GPU's, the MIG instance where the GPU is carved into some. Where the server cannot list them (no live source,
 * a source that cannot), the server's reason instead of a table.
 */
export class ProcessesPanel {
  readonly el: HTMLElement;
  private readonly status = h('p', { class: 'muted', 'data-testid': 'processes-status', role: 'status' });
  private readonly slot = h('div');
  private table: SortableTable<ProcessView> | null = null;
  private withMig = false;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly uuid: string,
    /** The GPU's memory total now, bytes (null: unknown), for each process's share. */
    private readonly memoryTotal: () => number | null,
  ) {
    this.el = h(
      'section',
      { class: 'panel processes', 'data-testid': 'processes', 'aria-labelledby': 'processes-title' },
      h('h3', { id: 'processes-title' }, 'Processes (memory in GiB)'),
      this.status,
      this.slot,
    );
    setText(this.status, 'Loading…');
    void this.load();
    this.timer = setInterval(() => {
      if (!document.hidden) void this.load();
    }, PROCESSES_REFRESH_MS);
  }

  destroy(): void {
    clearInterval(this.timer);
  }

  async load(): Promise<void> {
    let body: GpuProcessesResponse;
    try {
      body = await api<GpuProcessesResponse>(`/api/gpus/${encodeURIComponent(this.uuid)}/processes`);
    } catch (err) {
      this.show('error', `Processes unavailable: ${err instanceof Error ? err.message : String(err)}`, []);
      return;
    }
    if (body.unavailable !== null) {
      clearInterval(this.timer);
      this.show('unavailable', body.unavailable, []);
      return;
    }
    const n = body.processes.length;
    const held = body.processes.reduce((sum, p) => sum + (p.usedMemoryBytes ?? 0), 0);
    this.show(
      n === 0 ? 'none' : 'listed',
      n === 0
        ? `No process is using this GPU (as of ${dateTime(body.at)}).`
        : `${n} process${n === 1 ? '' : 'es'} holding ${gib(held)} GiB, as of ${dateTime(body.at)}.`,
      body.processes,
    );
  }

  private show(state: string, text: string, rows: ProcessView[]): void {
    this.el.dataset.state = state;
    setText(this.status, text);
    if (rows.length === 0) {
      this.slot.replaceChildren();
      return;
    }
    const withMig = rows.some((p) => p.migInstance !== null);
    if (!this.table || withMig !== this.withMig) {
      this.withMig = withMig;
      this.table = new SortableTable(
        'processes-table',
        'Processes using this GPU',
        this.columns(),
        'memory',
        true,
      );
    }
    this.table.setRows(rows);
    if (this.slot.firstChild !== this.table.el) this.slot.replaceChildren(this.table.el);
  }

  private columns(): Column<ProcessView>[] {
    const share = (p: ProcessView) => {
      const total = this.memoryTotal();
      return p.usedMemoryBytes === null || !total ? null : (100 * p.usedMemoryBytes) / total;
    };
    const columns: Column<ProcessView>[] = [
      { key: 'pid', label: 'PID', value: (p) => p.pid, numeric: true },
      { key: 'name', label: 'Process', value: (p) => p.name ?? 'unknown' },
      {
        key: 'memory',
        label: 'Memory (GiB)',
        value: (p) => p.usedMemoryBytes,
        show: (p) => gib(p.usedMemoryBytes),
        numeric: true,
      },
      {
        key: 'share',
        label: 'Of GPU memory (%)',
        value: share,
        show: (p) => {
          const s = share(p);
          return s === null ? '—' : s.toFixed(1);
        },
        numeric: true,
      },
    ];
    if (this.withMig) {
      columns.push({ key: 'mig', label: 'MIG instance', value: (p) => p.migInstance ?? 'whole GPU' });
    }
    return columns;
  }
}
