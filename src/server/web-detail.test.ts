import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page, Response } from 'playwright-core';
import { KEY_PAN_SHARE } from '../../web/chart-window.ts';
import { duration, gib } from '../../web/format.ts';
import { shareText } from '../../web/gpu-detail.ts';
import type { SampleColumns } from '../metrics/sample-columns.ts';
import type { ParquetBatch, ParquetWriter } from '../sinks/archive/parquet-writer.ts';
import type { GpuProcessesResponse, GpusResponse, HistoryResponse, ThrottleResponse } from './api-types.ts';
import {
  axeViolations,
  checkLayout,
  type Dashboard,
  simulatorFlags,
  startDashboard,
  writeSimulatedArchive,
} from './web-test-support.ts';

const INTERVAL_MS = 2000;
/** One host of 8 GPUs: every personality of the simulator (training, inference, bursty, idle-holding, idle). */
const SIM = { hosts: 1, gpusPerHost: 8, seed: 5 };
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** The hour the archive lacks (a server that was down): yesterday, 10:00 to 11:00 UTC. */
const MISSING_HOUR = (() => {
  const from = Math.floor(Date.now() / DAY_MS) * DAY_MS - DAY_MS + 10 * HOUR_MS;
  return { from, to: from + HOUR_MS };
})();
/** The widths the detail is laid out at: a small phone, a phone, a tablet, a laptop, a 4K screen at 150 %. */
const DETAIL_WIDTHS = [360, 390, 768, 1440, 2560] as const;

/** Makes `writer` leave out the samples of `missing` (from included, to excluded) from every batch. */
function leaveOut(writer: ParquetWriter, missing: { from: number; to: number }): void {
  const begin = writer.begin.bind(writer);
  writer.begin = async (...args): Promise<ParquetBatch> => {
    const batch = await begin(...args);
    const append = batch.append.bind(batch);
    batch.append = (columns: SampleColumns) => append(dropRows(columns, missing));
    return batch;
  };
}

/** `columns` without its rows in `missing`, moved up in place. */
function dropRows(columns: SampleColumns, missing: { from: number; to: number }): SampleColumns {
  let kept = 0;
  for (let i = 0; i < columns.length; i++) {
    const ts = columns.ts[i] as number;
    if (ts >= missing.from && ts < missing.to) continue;
    columns.gpu[kept] = columns.gpu[i] as number;
    columns.ts[kept] = ts;
    for (const metric of columns.metrics) metric[kept] = metric[i] as number;
    kept++;
  }
  columns.length = kept;
  return columns;
}

/** What a chart of the detail shows (its container's data): the time window and value range, its gaps. */
interface ChartState {
  panel: string;
  xMin: number;
  xMax: number;
  yMin: number;
  yMax: number;
  zoomed: boolean;
  gaps: [number, number][];
}

async function chartStates(page: Page): Promise<ChartState[]> {
  return page.locator('[data-testid="chart-panel"]').evaluateAll((panels) =>
    panels.map((panel) => {
      const data = (panel.querySelector('[data-testid="detail-chart"]') as HTMLElement).dataset;
      return {
        panel: (panel as HTMLElement).dataset.panel ?? '',
        xMin: Number(data.xMin),
        xMax: Number(data.xMax),
        yMin: Number(data.yMin),
        yMax: Number(data.yMax),
        zoomed: data.zoomed === 'true',
        gaps: (data.gaps ? data.gaps.split(',') : []).map(
          (g) => g.split('-').map(Number) as [number, number],
        ),
      };
    }),
  );
}

/**
 * How many pixels of the colour `colorVar` (a CSS variable of the theme) a panel's chart has drawn along the
 * line at time `at.ts` (top to bottom of the plot), or at value `at.value` (across the plot, as a share of the
 * plot's width): read back from uPlot's canvas.
 */
async function inkOf(
  page: Page,
  panel: string,
  colorVar: string,
  at: { ts: number } | { value: number },
): Promise<number> {
  const read = await page.evaluate(
    ({ panel, colorVar, at }) => {
      const chart = document.querySelector<HTMLElement>(
        `[data-panel="${panel}"] [data-testid="detail-chart"]`,
      );
      const canvas = chart?.querySelector('canvas');
      const over = chart?.querySelector('.u-over')?.getBoundingClientRect();
      const ctx = canvas?.getContext('2d');
      if (!chart || !canvas || !over || !ctx) throw new Error(`no chart ${panel}`);
      const probe = document.createElement('canvas').getContext('2d') as CanvasRenderingContext2D;
      probe.fillStyle = getComputedStyle(document.documentElement).getPropertyValue(colorVar).trim();
      probe.fillRect(0, 0, 1, 1);
      const box = canvas.getBoundingClientRect();
      const ratio = canvas.width / box.width;
      const { xMin, xMax, yMin, yMax } = chart.dataset;
      const left = Math.round((over.left - box.left) * ratio);
      const top = Math.round((over.top - box.top) * ratio);
      const width = Math.round(over.width * ratio);
      const height = Math.round(over.height * ratio);
      // Three columns across the time, five rows across the value: a line between two pixels is still seen.
      const area =
        'ts' in at
          ? [
              left + Math.round(((at.ts - Number(xMin)) / (Number(xMax) - Number(xMin))) * width) - 1,
              top,
              3,
              height,
            ]
          : [
              left,
              top + Math.round((1 - (at.value - Number(yMin)) / (Number(yMax) - Number(yMin))) * height) - 2,
              width,
              5,
            ];
      const [x, y, w, h] = area as [number, number, number, number];
      return {
        color: [...probe.getImageData(0, 0, 1, 1).data],
        pixels: [...ctx.getImageData(x, y, w, h).data],
        width: w,
      };
    },
    { panel, colorVar, at },
  );
  const [r, g, b] = read.color as [number, number, number];
  // uPlot's canvas is transparent: a line's pixels are its colour, as opaque as the line covers them.
  const inked = (p: number) =>
    (read.pixels[p + 3] as number) > 90 &&
    Math.abs((read.pixels[p] as number) - r) +
      Math.abs((read.pixels[p + 1] as number) - g) +
      Math.abs((read.pixels[p + 2] as number) - b) <
      60;
  const rows = read.pixels.length / 4 / read.width;
  if ('ts' in at) {
    let n = 0;
    for (let p = 0; p < read.pixels.length; p += 4) if (inked(p)) n++;
    return n;
  }
  let columns = 0;
  for (let x = 0; x < read.width; x++) {
    let any = false;
    for (let row = 0; row < rows && !any; row++) any = inked(4 * (row * read.width + x));
    if (any) columns++;
  }
  return columns / read.width;
}

async function json<T>(url: string): Promise<T> {
  const res = await fetch(url);
  assert.equal(res.status, 200, `${url}: ${await res.clone().text()}`);
  return (await res.json()) as T;
}

/**
 * gpumon up on the simulator over two archived days of the same fleet: a GPU's detail lists its processes
 * (from the simulator, through /api/gpus/:uuid/processes) and marks each throttle reason on its charts.
 */
describe("a GPU's processes and throttle reasons in its detail, in a browser on gpumon up", () => {
  let dashboard: Dashboard | undefined;
  let page: Page;
  let dir: string;
  let url: string;
  let uuids: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gpumon-web-detail-'));
    const archivePath = join(dir, 'archive');
    await writeSimulatedArchive(archivePath, SIM, 2, 60_000, (writer) => leaveOut(writer, MISSING_HOUR));
    dashboard = await startDashboard({
      ...simulatorFlags(SIM, INTERVAL_MS),
      'archive.path': archivePath,
      'schedule.enabled': false,
    });
    ({ url, page } = dashboard);
    for (let tries = 0; uuids.length < 8 && tries < 50; tries++) {
      uuids = (await json<GpusResponse>(`${url}/api/gpus`)).gpus.map((g) => g.uuid);
      if (uuids.length < 8) await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(uuids.length, 8, 'the simulator sampled its GPUs');
  });

  after(async () => {
    await dashboard?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const processesOf = (uuid: string) =>
    json<GpuProcessesResponse>(`${url}/api/gpus/${encodeURIComponent(uuid)}/processes`);

  /** The GPU running the most processes now, as the API lists them. */
  async function busiestGpu(): Promise<GpuProcessesResponse> {
    const lists = await Promise.all(uuids.map(processesOf));
    return lists.reduce((a, b) => (b.processes.length > a.processes.length ? b : a));
  }

  const activeIn = (a: ThrottleResponse) => a.reasons.filter((r) => (a.totals.active[r.key] ?? 0) > 0);

  /** The GPU held back by the most throttle reasons over 7 days, as the API counts them. */
  async function mostThrottledGpu(): Promise<ThrottleResponse> {
    const answers = await Promise.all(
      uuids.map((u) =>
        json<ThrottleResponse>(`${url}/api/gpus/${encodeURIComponent(u)}/throttle?range=7d&points=1500`),
      ),
    );
    return answers.reduce((a, b) => (activeIn(b).length > activeIn(a).length ? b : a));
  }

  async function openDetail(uuid: string, range = ''): Promise<void> {
    await page.goto(`${url}/#gpu=${encodeURIComponent(uuid)}${range ? `&range=${range}` : ''}`);
    // The new detail, not the one it replaces (a change of the hash only).
    await page.locator(`[data-testid="range-${range || '15m'}"][aria-current="true"]`).waitFor();
    await page.locator('[data-testid="gpu-detail"][data-points]').waitFor({ timeout: 15_000 });
    await page.locator('[data-testid="processes"][data-state]').waitFor({ timeout: 15_000 });
    await page.locator('[data-testid="throttle-legend"][data-key]').waitFor({ timeout: 15_000 });
  }

  test('a busy GPU lists its processes as the API does: pid, name, memory in GiB and its share', async () => {
    const busiest = await busiestGpu();
    assert.ok(busiest.processes.length >= 2, 'some GPU runs a few processes');
    // The page asks again every few seconds and the memory moves with the load: keep the page's own answers.
    const answers: Promise<GpuProcessesResponse>[] = [];
    const keep = (r: Response) => {
      if (r.url().endsWith(`/api/gpus/${encodeURIComponent(busiest.uuid)}/processes`)) answers.push(r.json());
    };
    page.on('response', keep);
    await openDetail(busiest.uuid);
    const rows = page.locator('[data-testid="processes-table"] tbody tr');
    // Every row with its share, which needs the GPU's memory total (on a loaded machine the table may come
    // first, with "—", and the share at the page's next answer).
    await page.waitForFunction((n) => {
      const trs = [...document.querySelectorAll('[data-testid="processes-table"] tbody tr')];
      return trs.length === n && trs.every((tr) => tr.querySelectorAll('td')[3]?.textContent !== '—');
    }, busiest.processes.length);
    const shown = await rows.evaluateAll((trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
    );
    const api = await processesOf(busiest.uuid);
    const gpu = (await json<GpusResponse>(`${url}/api/gpus`)).gpus.find((g) => g.uuid === busiest.uuid);
    const total = gpu?.gpu_memory_total_bytes as number;
    page.off('response', keep);
    // Largest memory first, the processes the API lists; the memory and share of one of the page's answers.
    assert.deepEqual(
      shown.map((r) => [Number(r[0]), r[1]]),
      api.processes.map((p) => [p.pid, p.name]),
    );
    const asShown = (answer: GpuProcessesResponse) =>
      answer.processes.length === shown.length &&
      shown.every((r, i) => {
        const bytes = answer.processes[i]?.usedMemoryBytes as number;
        return r[2] === gib(bytes) && r[3] === ((100 * bytes) / total).toFixed(1);
      });
    const received = await Promise.all(answers);
    assert.ok(
      received.some(asShown),
      `${JSON.stringify(shown)} is none of the page's ${received.length} answers`,
    );
    assert.deepEqual(await page.locator('[data-testid="processes-table"] thead th').allTextContents(), [
      'PID',
      'Process',
      'Memory (GiB)',
      'Of GPU memory (%)',
    ]);
    assert.match(
      (await page.locator('[data-testid="processes-status"]').textContent()) ?? '',
      new RegExp(`^${api.processes.length} processes holding \\d+\\.\\d GiB, as of `),
    );
    // A click on a heading sorts by it.
    await page.locator('[data-testid="processes-table"] th[data-key="pid"] button').click();
    const pids = (await rows.evaluateAll((trs) => trs.map((tr) => tr.querySelector('td')?.textContent))).map(
      Number,
    );
    assert.deepEqual(
      pids,
      [...pids].sort((a, b) => b - a),
      'sorted by PID, largest first',
    );
  });

  test('an idle GPU says no process is using it, not an empty table', async () => {
    const lists = await Promise.all(uuids.map(processesOf));
    const idle = lists.find((l) => l.unavailable === null && l.processes.length === 0);
    assert.ok(idle, 'the idle GPU of the fleet runs nothing');
    await openDetail(idle.uuid);
    assert.equal(await page.locator('[data-testid="processes"]').getAttribute('data-state'), 'none');
    assert.match(
      (await page.locator('[data-testid="processes-status"]').textContent()) ?? '',
      /^No process is using this GPU \(as of /,
    );
    assert.equal(await page.locator('[data-testid="processes-table"]').count(), 0);
  });

  test("7 days: each throttle reason of the API in the legend with its share, a lane on each of the GPU's charts", async () => {
    const throttled = await mostThrottledGpu();
    const reasons = activeIn(throttled);
    assert.ok(
      reasons.length > 0,
      'two simulated days of 8 GPUs hold some throttling (power cap, cooling problems)',
    );
    await openDetail(throttled.uuid, '7d');
    const legend = page.locator('[data-testid="throttle-legend"]');
    assert.equal(await legend.getAttribute('data-reasons'), reasons.map((r) => r.key).join(','));
    const items = await legend.locator('li').evaluateAll((lis) =>
      lis.map((li) => ({
        key: li.getAttribute('data-reason'),
        text: li.textContent ?? '',
        title: li.getAttribute('title'),
      })),
    );
    items.forEach((item, i) => {
      const reason = reasons[i];
      assert.equal(item.key, reason?.key);
      assert.ok(item.text.startsWith(`${reason?.label} `), item.text);
      assert.equal(item.title, reason?.help, 'what the reason means, as its tooltip');
      // Live samples come in between: the share may move by a little.
      const shown = Number.parseFloat(item.text.slice((reason?.label.length ?? 0) + 1).replace('< ', ''));
      const expected = Number.parseFloat(
        shareText((throttled.totals.active[reason?.key ?? ''] ?? 0) / throttled.totals.measured).replace(
          '< ',
          '',
        ),
      );
      assert.ok(Math.abs(shown - expected) <= 0.2, `${item.text}: API ${expected} %`);
    });
    // Every GPU chart draws a lane per reason; the host's charts none.
    await page.waitForFunction(
      (n) =>
        [
          ...document.querySelectorAll<HTMLElement>(
            '[data-panel="utilization"] [data-testid="detail-chart"]',
          ),
        ].every((c) => c.dataset.lanes === String(n) && Number(c.dataset.laneMarks) > 0),
      reasons.length,
    );
    const lanes = await page
      .locator('[data-testid="detail-chart"]')
      .evaluateAll((charts) => charts.map((c) => (c as HTMLElement).dataset.lanes ?? '0'));
    assert.deepEqual(lanes, [...Array(7).fill(String(reasons.length)), '0', '0', '0']);
    // Across the utilization chart, the cursor somewhere names the reasons active at its time.
    const over = page.locator('[data-panel="utilization"] .u-over');
    const box = await over.boundingBox();
    assert.ok(box);
    const note = page.locator('[data-panel="utilization"] [data-testid="chart-note"]');
    let said = '';
    for (let x = 1; x < box.width && !said.startsWith('Throttled'); x += 2) {
      await page.mouse.move(box.x + x, box.y + box.height / 2);
      said = (await note.textContent()) ?? '';
    }
    assert.match(said, /^Throttled: /);
    for (const named of said.slice('Throttled: '.length).split(', ')) {
      assert.ok(
        reasons.some((r) => named.startsWith(r.label)),
        `${named} is one of ${reasons.map((r) => r.label)}`,
      );
    }
    await page.mouse.move(0, 0);
  });

  /** Every chart's window once they all show the same one, zoomed (or not), as drawn. */
  async function sharedWindow(zoomed: boolean): Promise<[number, number]> {
    const handle = await page
      .waitForFunction((zoomed) => {
        const charts = [...document.querySelectorAll<HTMLElement>('[data-testid="detail-chart"]')];
        const windows = charts.map((c) => `${c.dataset.xMin}-${c.dataset.xMax}`);
        const same = charts.length === 10 && charts[0]?.dataset.xMax !== undefined;
        return (
          same &&
          windows.every((w) => w === windows[0]) &&
          charts.every((c) => (c.dataset.zoomed === 'true') === zoomed) &&
          windows[0]
        );
      }, zoomed)
      .catch(async (err: Error) => {
        throw new Error(`the charts show no one window: ${JSON.stringify(await chartStates(page))}`, {
          cause: err,
        });
      });
    const [from, to] = String(await handle.jsonValue())
      .split('-')
      .map(Number) as [number, number];
    return [from, to];
  }

  /** The plot of a panel's chart, in the page. */
  async function plotOf(panel: string): Promise<{ x: number; y: number; width: number; height: number }> {
    const over = page.locator(`[data-panel="${panel}"] .u-over`);
    await over.scrollIntoViewIfNeeded();
    const box = await over.boundingBox();
    assert.ok(box, `the ${panel} chart is drawn`);
    return box;
  }

  /** Drags across a panel's plot, at mid height, from a share of its width to another. */
  async function drag(panel: string, from: number, to: number, shift = false): Promise<void> {
    const box = await plotOf(panel);
    if (shift) await page.keyboard.down('Shift');
    await page.mouse.move(box.x + box.width * from, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * to, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    if (shift) await page.keyboard.up('Shift');
  }

  const near = (actual: number, expected: number, within: number, what: string) =>
    assert.ok(
      Math.abs(actual - expected) <= within,
      `${what}: ${new Date(actual).toISOString()}, expected ${new Date(expected).toISOString()}`,
    );

  test('zoom and pan move every chart together: drag, Shift+drag, a sideways scroll, the keys, Ctrl+wheel', async () => {
    await openDetail(uuids[0] as string, '24h');
    const address = page.url();
    await page.mouse.move(0, 0);
    const whole = await sharedWindow(false);
    const span = whole[1] - whole[0];
    const zoomText = page.locator('[data-testid="zoom-text"]');
    assert.equal(await zoomText.textContent(), 'Drag across a chart to zoom in, double-click to zoom out');

    // A drag across the power chart, from 30 % to 70 % of its width, zooms all ten charts to that window.
    await drag('power', 0.3, 0.7);
    const zoomed = await sharedWindow(true);
    near(zoomed[0], whole[0] + 0.3 * span, 0.01 * span, 'the zoomed window starts where the drag did');
    near(zoomed[1], whole[0] + 0.7 * span, 0.01 * span, 'and ends where it ended');
    assert.match((await zoomText.textContent()) ?? '', /^Zoomed to \d\d:\d\d – \d\d:\d\d; Shift\+drag pans$/);
    assert.ok(await page.locator('[data-testid="zoom-reset"]').isVisible());
    const width = zoomed[1] - zoomed[0];

    // Shift+drag on another chart, a fifth of its width to the left, shows a fifth of the window later.
    await drag('utilization', 0.6, 0.4, true);
    const later = await sharedWindow(true);
    near(later[0], zoomed[0] + 0.2 * width, 0.005 * width, 'Shift+drag pans');
    near(later[1] - later[0], width, 1000, 'panning keeps the span');

    // A sideways scroll of 100 px to the left shows earlier times, by 100 px of the plot.
    const plot = await plotOf('temperature');
    await page.mouse.move(plot.x + plot.width / 2, plot.y + plot.height / 2);
    await page.mouse.wheel(-100, 0);
    const scrolled = await sharedWindow(true);
    near(scrolled[0], later[0] - (100 / plot.width) * width, 0.01 * width, 'a sideways scroll pans');

    // On a focused chart, ← pans by a quarter of the window, + halves it around its middle, − doubles it back.
    await page.mouse.move(0, 0);
    await page.locator('[data-panel="memory"] [data-testid="detail-chart"]').focus();
    await page.keyboard.press('ArrowLeft');
    const left = await sharedWindow(true);
    near(left[0], scrolled[0] - KEY_PAN_SHARE * width, 1000, '← pans earlier');
    await page.keyboard.press('+');
    const middle = (left[0] + left[1]) / 2;
    const closer = await sharedWindow(true);
    near(closer[0], middle - width / 4, 1000, '+ zooms in around the middle');
    near(closer[1], middle + width / 4, 1000, '+ zooms in around the middle');
    await page.keyboard.press('-');
    const back = await sharedWindow(true);
    near(back[1] - back[0], width, 1000, '− zooms back out');

    // Escape shows the whole range again: the charts follow the live points, the button goes.
    await page.keyboard.press('Escape');
    const all = await sharedWindow(false);
    assert.ok(all[0] <= whole[0] + 1000 && all[1] >= whole[1], 'the whole range again');
    assert.equal(await page.locator('[data-testid="zoom-reset"]').isVisible(), false);

    // Ctrl+wheel (a trackpad's pinch) zooms around the pointer: the time under it stays under it.
    await page.mouse.move(plot.x + plot.width / 4, plot.y + plot.height / 2);
    const anchor = all[0] + 0.25 * (all[1] - all[0]);
    await page.keyboard.down('Control');
    await page.mouse.wheel(0, -200);
    await page.keyboard.up('Control');
    const pinched = await sharedWindow(true);
    const pinchedSpan = pinched[1] - pinched[0];
    near(pinchedSpan, (all[1] - all[0]) * Math.exp(-0.4), 0.01 * span, 'Ctrl+wheel up zooms in');
    near(pinched[0] + 0.25 * pinchedSpan, anchor, 0.01 * span, 'around the time under the pointer');

    // The button shows the whole range; the address never changed (zooming is not a new range).
    await page.locator('[data-testid="zoom-reset"]').click();
    await sharedWindow(false);
    assert.equal(page.url(), address);
  });

  /**
   * Hovers a panel's plot until its legend shows a bucket (its line has a value there, not a gap), from `at` of
   * its width on: the bucket's time (as the browser reads the legend's local time) and the legend's values by label.
   */
  async function hoverBucket(
    panel: string,
    at: number,
  ): Promise<{ ts: number; values: Record<string, string> }> {
    const box = await plotOf(panel);
    for (let k = 0; k < 40; k++) {
      await page.mouse.move(box.x + box.width * (at + k * 0.005), box.y + box.height / 2);
      const read = await page.evaluate((panel) => {
        const rows = [...document.querySelectorAll(`[data-panel="${panel}"] .u-legend .u-series`)];
        const values: Record<string, string> = {};
        for (const row of rows) {
          values[row.querySelector('.u-label')?.textContent ?? ''] =
            row.querySelector('.u-value')?.textContent ?? '';
        }
        const [date, time] = (rows[0]?.querySelector('.u-value')?.textContent ?? '').split(' ');
        const [y, mo, d] = (date ?? '').split('-').map(Number) as [number, number, number];
        const [h, mi, sec] = (time ?? '').split(':').map(Number) as [number, number, number];
        return { ts: new Date(y, mo - 1, d, h, mi, sec).getTime(), values };
      }, panel);
      if (Number.isFinite(read.ts) && read.values.GPU !== '—' && read.values['GPU min–max'] !== '—')
        return read;
    }
    throw new Error(`no bucket under the cursor on the ${panel} chart`);
  }

  /** "45 %" as the API's `value` would be shown with as many decimals. */
  const shown = (text: string | undefined, value: number | null | undefined) => {
    const number = (text ?? '').split(' ')[0] ?? '';
    const decimals = number.split('.')[1]?.length ?? 0;
    return Number(number) === Number((value as number).toFixed(decimals));
  };

  /** The legend's mean and min–max at a bucket equal to the API's answer at that bucket's time. */
  function assertBucket(answer: HistoryResponse, read: { ts: number; values: Record<string, string> }) {
    const i = answer.ts.indexOf(read.ts);
    assert.ok(i >= 0, `${new Date(read.ts).toISOString()} is a bucket of the answer`);
    const series = answer.series.gpu_utilization_percent;
    assert.ok(shown(read.values.GPU, series?.mean[i]), `mean ${read.values.GPU}, API ${series?.mean[i]}`);
    const [min, max] = (read.values['GPU min–max'] ?? '').replace(' %', '').split(' – ');
    assert.ok(
      shown(min, series?.min[i]) && shown(max, series?.max[i]),
      `band ${read.values['GPU min–max']}, API ${series?.min[i]} – ${series?.max[i]}`,
    );
  }

  test("zoomed into a few hours of 7 days: the window's history asked again, its finer buckets and their min–max band shown; Show all back to the range's without asking", async () => {
    const uuid = uuids[1] as string;
    const asked: string[] = [];
    const answers: Promise<HistoryResponse>[] = [];
    const onRequest = (r: { url(): string }) => {
      const u = r.url();
      if (/\/(history|throttle)\?/.test(u) && u.includes('points=1500')) asked.push(u);
    };
    const onResponse = (r: Response) => {
      if (r.url().includes('/history?') && r.url().includes('range=7d')) answers.push(r.json());
    };
    page.on('request', onRequest);
    page.on('response', onResponse);
    try {
      await openDetail(uuid, '7d');
      await page.mouse.move(0, 0);
      const detail = page.locator('[data-testid="gpu-detail"]');
      const rangeBucket = Number(await detail.getAttribute('data-bucket-ms'));
      assert.equal(rangeBucket, 404_000, '7 days in 1,500 buckets');
      const [range] = await Promise.all(answers);
      assert.ok(range);
      const whole = await sharedWindow(false);
      const charts = page.locator('[data-testid="detail-chart"]');
      const buckets = () =>
        charts.evaluateAll((cs) => cs.map((c) => Number((c as HTMLElement).dataset.bucketMs)));
      assert.deepEqual(await buckets(), Array(10).fill(rangeBucket));
      // The range's buckets carry a min–max band: in the legend, the API's min and max of the bucket.
      for (const panel of ['utilization', 'temperature', 'power']) {
        const points = await page
          .locator(`[data-panel="${panel}"] [data-testid="detail-chart"]`)
          .getAttribute('data-band-points');
        assert.ok(Number(points) > 100, `${panel}: a band over the buckets (${points} points)`);
      }
      assertBucket(range, await hoverBucket('utilization', 0.3));
      await page.mouse.move(0, 0);

      // A drag across 5 % of the plot, within yesterday's archive: a few hours.
      const before = asked.length;
      await drag('utilization', 0.45, 0.5);
      const win = await sharedWindow(true);
      assert.ok(win[1] - win[0] < 6 * HOUR_MS && win[1] - win[0] > HOUR_MS, 'a few hours');
      assert.ok(whole[1] - win[1] > HOUR_MS, 'in the past');
      await page.waitForFunction(() => {
        const d = document.querySelector<HTMLElement>('[data-testid="gpu-detail"]')?.dataset;
        return d?.zoomDetail !== undefined && d.zoomDetail === d.window;
      });
      // The history and the throttle reasons of just that window, once each: the drag is one zoom.
      /** The asked window is the shown one (which the charts' data rounds to the millisecond). */
      const ofWindow = (u: string) => {
        const q = new URL(u).searchParams;
        return (
          Math.abs(Number(q.get('from')) - win[0]) <= 1 &&
          Math.abs(Number(q.get('to')) - win[1]) <= 1 &&
          q.get('points') === '1500' &&
          !q.has('range')
        );
      };
      const zoomAsks = asked.slice(before);
      assert.deepEqual(
        zoomAsks.map((u) => new URL(u).pathname.split('/').at(-1)).sort(),
        ['history', 'throttle'],
        zoomAsks.join('\n'),
      );
      const historyUrl = zoomAsks.find((u) => u.includes('/history?')) as string;
      assert.ok(ofWindow(historyUrl), historyUrl);
      assert.ok(ofWindow(zoomAsks.find((u) => u.includes('/throttle?')) as string));
      // The charts now show the API's finer buckets of that window.
      const answer = await json<HistoryResponse>(historyUrl);
      assert.ok(answer.bucketMs < rangeBucket / 10, `${answer.bucketMs} ms buckets`);
      await page.waitForFunction(
        (ms) =>
          [...document.querySelectorAll<HTMLElement>('[data-testid="detail-chart"]')].every(
            (c) => c.dataset.bucketMs === String(ms),
          ),
        answer.bucketMs,
      );
      assert.equal(await detail.getAttribute('data-zoom-bucket-ms'), String(answer.bucketMs));
      assert.match(
        (await page.locator('[data-testid="range-note"]').textContent()) ?? '',
        new RegExp(
          `^Zoomed in: .* each point the mean of ${duration(answer.bucketMs)} · from the archive \\(finer than the whole range's ${duration(rangeBucket)}\\)$`,
        ),
      );
      assertBucket(answer, await hoverBucket('utilization', 0.4));
      const inWindow = answer.ts.filter((t) => t >= win[0] && t <= win[1]).length;
      const coarse = range.ts.filter((t) => t >= win[0] && t <= win[1]).length;
      assert.ok(inWindow > 5 * coarse, `${inWindow} points in the window, ${coarse} before`);
      await page.mouse.move(0, 0);

      // Show all: the range's own buckets again, kept from the first answer: nothing asked.
      const asking = asked.length;
      await page.locator('[data-testid="zoom-reset"]').click();
      await sharedWindow(false);
      await page.waitForFunction(
        (ms) =>
          [...document.querySelectorAll<HTMLElement>('[data-testid="detail-chart"]')].every(
            (c) => c.dataset.bucketMs === String(ms),
          ),
        rangeBucket,
      );
      assert.equal(await detail.getAttribute('data-zoom-detail'), null);
      assert.equal(await detail.getAttribute('data-zoom-state'), null, 'nothing waiting to be asked');
      assertBucket(range, await hoverBucket('utilization', 0.3));
      assert.equal(asked.length, asking, `nothing asked: ${asked.slice(asking).join(', ')}`);
      assert.match(
        (await page.locator('[data-testid="range-note"]').textContent()) ?? '',
        /each point the mean of 6\.7 min/,
      );
    } finally {
      page.off('request', onRequest);
      page.off('response', onResponse);
      await page.mouse.move(0, 0);
    }
  });

  test('live samples of 15 minutes are no buckets: no band, no min–max in the legend', async () => {
    const asked: string[] = [];
    const onRequest = (r: { url(): string }) => {
      if (r.url().includes('points=1500')) asked.push(r.url());
    };
    await openDetail(uuids[1] as string);
    await sharedWindow(false);
    page.on('request', onRequest);
    try {
      const state = await page
        .locator('[data-panel="utilization"] [data-testid="detail-chart"]')
        .evaluate((c) => ({
          band: (c as HTMLElement).dataset.bandPoints,
          rows: [...c.querySelectorAll<HTMLElement>('.u-legend .u-series')]
            .filter((r) => r.style.display !== 'none')
            .map((r) => r.querySelector('.u-label')?.textContent),
        }));
      assert.ok(state.band === undefined || state.band === '0', `no band: ${state.band}`);
      assert.deepEqual(state.rows, ['time', 'GPU', 'Memory bus']);
      // Nothing asked at any time: the 15 minutes are the live buffer's samples.
      assert.deepEqual(asked, []);
    } finally {
      page.off('request', onRequest);
    }
  });

  test('an hour missing from the archive is a gap in the GPU charts, no line drawn across it', async () => {
    const uuid = uuids[0] as string;
    const from = new Date(MISSING_HOUR.from - 2 * HOUR_MS).toISOString();
    const to = new Date(MISSING_HOUR.to + 2 * HOUR_MS).toISOString();
    await page.goto(`${url}/#gpu=${encodeURIComponent(uuid)}&from=${from}&to=${to}`);
    await page.locator('[data-testid="gpu-detail"][data-points]').waitFor({ timeout: 15_000 });
    await page.mouse.move(0, 0);
    await page.waitForFunction(() =>
      [...document.querySelectorAll<HTMLElement>('[data-testid="detail-chart"]')].every(
        (c) => c.dataset.gaps !== undefined && Number(c.dataset.xMax) > 0,
      ),
    );
    const bucketMs = Number(await page.locator('[data-testid="gpu-detail"]').getAttribute('data-bucket-ms'));
    const charts = await chartStates(page);
    for (const panel of ['utilization', 'memory', 'temperature', 'power']) {
      const gaps = charts.find((c) => c.panel === panel)?.gaps ?? [];
      assert.equal(gaps.length, 1, `${panel}: one gap, ${JSON.stringify(gaps)}`);
      const [start, end] = gaps[0] as [number, number];
      // From the last point before the missing hour to the first one after it.
      assert.ok(
        start <= MISSING_HOUR.from && start >= MISSING_HOUR.from - 2 * bucketMs - 60_000,
        `${panel}: the gap starts at ${new Date(start).toISOString()}`,
      );
      assert.ok(
        end >= MISSING_HOUR.to - bucketMs && end <= MISSING_HOUR.to + 2 * bucketMs + 60_000,
        `${panel}: the gap ends at ${new Date(end).toISOString()}`,
      );
    }
    // On the canvas: the GPU temperature's line is drawn an hour either side of the gap, not across it.
    const ink = (ts: number) => inkOf(page, 'temperature', '--series-1', { ts });
    assert.ok((await ink(MISSING_HOUR.from - HOUR_MS)) > 0, 'the line is drawn before the gap');
    assert.ok((await ink(MISSING_HOUR.to + HOUR_MS)) > 0, 'and after it');
    assert.equal(await ink(MISSING_HOUR.from + HOUR_MS / 2), 0, 'nothing in the missing hour');
  });

  test("the power chart draws the GPU's power limit from the API as a dashed line at its value", async () => {
    const gpu = (await json<GpusResponse>(`${url}/api/gpus`)).gpus[0];
    assert.ok(gpu);
    const limit = gpu.gpu_power_limit_watts as number;
    assert.ok(limit > 0, 'the simulated GPU has a power limit');
    await openDetail(gpu.uuid, '1h');
    await page.mouse.move(0, 0);
    // Away from the chart, the legend shows the latest values: the limit's is the API's.
    await page.waitForFunction(
      (text) => {
        const rows = [...document.querySelectorAll('[data-panel="power"] .u-legend .u-series')];
        const row = rows.find((r) => r.querySelector('.u-label')?.textContent === 'Limit');
        return row?.querySelector('.u-value')?.textContent === text;
      },
      `${limit.toFixed(0)} W`,
    );
    const power = (await chartStates(page)).find((c) => c.panel === 'power');
    assert.ok(power && power.yMin <= limit && limit < power.yMax, `${limit} W is on the value axis`);
    // Across the plot at the limit's height: the limit's colour, dashed (6 px drawn, 4 px left out).
    const share = await inkOf(page, 'power', '--series-2', { value: limit });
    assert.ok(share > 0.45 && share < 0.85, `a dashed line across the plot: ${share} of its width`);
  });

  /** The busiest GPU and the most throttled one, asked once. */
  let layoutUuids: Promise<[string, string]> | undefined;
  const layoutGpus = () => {
    layoutUuids ??= Promise.all([busiestGpu(), mostThrottledGpu()]).then(([a, b]) => [a.uuid, b.uuid]);
    return layoutUuids;
  };
  const KEY_ELEMENTS = [
    '[data-testid="detail-now"] > *',
    '[data-testid="processes"] > *',
    '.ranges > *',
    '.range-custom > *',
    '[data-testid="range-bar"] > *',
    '[data-testid="zoom-bar"] > *',
    '[data-testid="throttle-legend"] li',
    '[data-testid="chart-panel"]',
    '[data-testid="chart-panel"] > *',
  ];

  for (const width of DETAIL_WIDTHS) {
    const audit = width === 390 || width === 1440;
    test(`the 15-minute detail with processes and the 7-day one with throttle lanes at ${width} px: no horizontal scroll, nothing over another${audit ? ', no accessibility violation' : ''}, screenshots`, async () => {
      const [busy, throttled] = await layoutGpus();
      await page.setViewportSize({ width, height: 900 });
      await openDetail(busy);
      await page.locator('[data-testid="processes-table"]').waitFor();
      await checkLayout(page, 'gpu-processes', KEY_ELEMENTS, true);
      if (audit) assert.deepEqual(await axeViolations(page), []);
      await openDetail(throttled, '7d');
      await checkLayout(page, 'gpu-throttle-7d', KEY_ELEMENTS, true);
      if (audit) assert.deepEqual(await axeViolations(page), []);
    });
  }
});
