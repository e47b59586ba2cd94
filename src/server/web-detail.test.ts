import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page, Response } from 'playwright-core';
import { gib } from '../../web/format.ts';
import { shareText } from '../../web/gpu-detail.ts';
import type { GpuProcessesResponse, GpusResponse, ThrottleResponse } from './api-types.ts';
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
    await writeSimulatedArchive(archivePath, SIM, 2, 60_000);
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

  async function openDetail(uuid: string, range = ''): Promise<void> {
    await page.goto(`${url}/#gpu=${encodeURIComponent(uuid)}${range ? `&range=${range}` : ''}`);
    await page.locator('[data-testid="gpu-detail"][data-points]').waitFor({ timeout: 15_000 });
    await page.locator('[data-testid="processes"][data-state]').waitFor({ timeout: 15_000 });
    await page.locator('[data-testid="throttle-legend"][data-key]').waitFor({ timeout: 15_000 });
  }

  test('a busy GPU lists its processes as the API does: pid, name, memory in GiB and its share', async () => {
    const lists = await Promise.all(uuids.map(processesOf));
    const busiest = lists.reduce((a, b) => (b.processes.length > a.processes.length ? b : a));
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
    for (const width of [390, 1440]) {
      await page.setViewportSize({ width, height: 900 });
      await checkLayout(
        page,
        'gpu-processes',
        ['[data-testid="processes"] > *', '[data-testid="chart-panel"]'],
        true,
      );
    }
    await page.setViewportSize({ width: 1440, height: 900 });
    assert.deepEqual(await axeViolations(page), []);
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
    const answers = await Promise.all(
      uuids.map((u) =>
        json<ThrottleResponse>(`${url}/api/gpus/${encodeURIComponent(u)}/throttle?range=7d&points=1500`),
      ),
    );
    const activeIn = (a: ThrottleResponse) => a.reasons.filter((r) => (a.totals.active[r.key] ?? 0) > 0);
    const throttled = answers.reduce((a, b) => (activeIn(b).length > activeIn(a).length ? b : a));
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
    for (const width of [390, 1440]) {
      await page.setViewportSize({ width, height: 900 });
      await checkLayout(
        page,
        'gpu-throttle-7d',
        ['[data-testid="throttle-legend"] li', '[data-testid="chart-panel"]'],
        true,
      );
    }
    await page.setViewportSize({ width: 1440, height: 900 });
    assert.deepEqual(await axeViolations(page), []);
  });
});
