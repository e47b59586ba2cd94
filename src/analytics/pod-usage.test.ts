import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runDailyAnalytics } from './daily-job.ts';
import type { JsonRow } from './engine.ts';
import { readResult } from './results.ts';
import { analyze, createTestArchive, GPU_B, rowOf, testConfig } from './testing.ts';
import { POD_COLUMNS, podsDay } from './testing-pods.ts';

const DAY = '2026-01-15';

/** The row of one scope and namespace (and pod). */
function podRow(
  rows: readonly JsonRow[],
  scope: string,
  namespace: string | null,
  pod: string | null = null,
): JsonRow {
  const row = rows.find((r) => r.scope === scope && r.namespace === namespace && r.pod === pod);
  if (!row) throw new Error(`no ${scope} row ${namespace}/${pod} in ${JSON.stringify(rows)}`);
  return row;
}

function near(actual: unknown, expected: number, what: string): void {
  assert.equal(typeof actual, 'number', `${what} is ${String(actual)}`);
  assert.ok(
    Math.abs((actual as number) - expected) <= Math.abs(expected) * 1e-9 + 1e-12,
    `${what}: ${actual} != ${expected}`,
  );
}

/** The figures of a row, hours and kWh from seconds and joules. */
function assertFigures(
  row: JsonRow,
  want: {
    gpus: number;
    containers: number;
    held: number;
    measured: number;
    idle: number;
    holding: number;
    joules: number;
  },
): void {
  const what = `${row.scope} ${row.namespace}/${row.pod}`;
  assert.equal(row.gpus, want.gpus, `${what} gpus`);
  assert.equal(row.containers, want.containers, `${what} containers`);
  near(row.held_gpu_hours, want.held / 3600, `${what} held`);
  near(row.measured_gpu_hours, want.measured / 3600, `${what} measured`);
  near(row.idle_gpu_hours, want.idle / 3600, `${what} idle`);
  near(row.idle_holding_memory_gpu_hours, want.holding / 3600, `${what} idle holding memory`);
  near(row.energy_kwh, want.joules / 3.6e6, `${what} energy`);
  if (want.measured > 0) near(row.idle_share, want.idle / want.measured, `${what} idle share`);
  else assert.equal(row.idle_share, null, `${what} idle share with nothing measured`);
}

describe('pod_usage: GPU-hours, idle GPU-hours and energy per pod and per namespace', () => {
  it('counts each valid interval for the pod of the sample that opens it, the time of free GPUs under namespace NULL', async () => {
    const { read } = await analyze(podsDay());
    const rows = await read('pod_usage');
    assert.deepEqual(
      rows.map((r) => [r.scope, r.namespace, r.pod]),
      [
        ['fleet', null, null],
        ['namespace', 'team-a', null],
        ['namespace', 'team-b', null],
        ['namespace', null, null],
        ['pod', 'team-a', 'infer-2'],
        ['pod', 'team-a', 'trainer-0'],
        ['pod', 'team-b', 'notebook-1'],
      ],
    );
    // trainer-0: 3 busy intervals (200 W, 200 W, then 200 -> 100 W), 3 idle holding 8 GiB (the last to 50 W).
    const trainer = {
      gpus: 1,
      containers: 1,
      held: 60,
      measured: 60,
      idle: 30,
      holding: 30,
      joules: 4000 + 1500 + 2000 + 750,
    };
    assertFigures(podRow(rows, 'pod', 'team-a', 'trainer-0'), trainer);
    // infer-2 on a MIG device: held, but neither load nor power known.
    const infer = { gpus: 1, containers: 1, held: 20, measured: 0, idle: 0, holding: 0, joules: 0 };
    assertFigures(podRow(rows, 'pod', 'team-a', 'infer-2'), infer);
    // notebook-1: idle without memory; the 1000 s after its third sample is a gap, in nothing.
    const notebook = { gpus: 1, containers: 1, held: 20, measured: 20, idle: 20, holding: 0, joules: 1200 };
    assertFigures(podRow(rows, 'pod', 'team-b', 'notebook-1'), notebook);
    assertFigures(podRow(rows, 'namespace', 'team-a'), {
      gpus: 2,
      containers: 2,
      held: 80,
      measured: 60,
      idle: 30,
      holding: 30,
      joules: trainer.joules,
    });
    assertFigures(podRow(rows, 'namespace', 'team-b'), notebook);
    const free = { gpus: 1, containers: 0, held: 20, measured: 20, idle: 20, holding: 0, joules: 1000 };
    assertFigures(podRow(rows, 'namespace', null), free);
    assertFigures(podRow(rows, 'fleet', null), {
      gpus: 3,
      containers: 3,
      held: 120,
      measured: 100,
      idle: 70,
      holding: 30,
      joules: trainer.joules + notebook.joules + free.joules,
    });
  });

  it("adds up to idle_time's and daily_stats' fleet figures: every valid interval is in one pod or in none", async () => {
    const { read } = await analyze(podsDay());
    const fleet = podRow(await read('pod_usage'), 'fleet', null);
    const idle = rowOf(await read('idle_time'));
    const stats = rowOf(await read('daily_stats'));
    near(fleet.measured_gpu_hours, Number(idle.measured_seconds) / 3600, 'measured');
    near(fleet.idle_gpu_hours, Number(idle.idle_seconds) / 3600, 'idle');
    near(fleet.idle_holding_memory_gpu_hours, Number(idle.wasted_gpu_hours), 'wasted');
    near(fleet.energy_kwh, Number(stats.energy_kwh), 'energy');
  });

  it('analyses an archive written before the pod columns: its time is under namespace NULL, beside newer files', async () => {
    const archive = await createTestArchive();
    try {
      const samples = podsDay();
      const old = samples.filter((s) => s.uuid === GPU_B.uuid);
      await archive.addFile(DAY, old, 'old.parquet', POD_COLUMNS);
      await archive.addFile(
        DAY,
        samples.filter((s) => s.uuid !== GPU_B.uuid),
        'new.parquet',
      );
      const result = await runDailyAnalytics({ config: testConfig(), date: DAY, storage: archive.storage });
      assert.equal(result.inputFiles, 2);
      const rows = (await readResult(archive.storage, DAY, 'pod_usage')) ?? [];
      assert.equal(
        rows.some((r) => r.pod === 'notebook-1'),
        false,
        'the old file carries no pod',
      );
      const unattributed = podRow(rows, 'namespace', null);
      assert.equal(unattributed.gpus, 2);
      near(unattributed.held_gpu_hours, 40 / 3600, 'GPU_B and the free GPU_A');
      near(
        podRow(rows, 'pod', 'team-a', 'trainer-0').held_gpu_hours,
        60 / 3600,
        'the newer file keeps its pods',
      );
    } finally {
      await archive.cleanup();
    }
  });

  it('gives only the fleet and the namespace NULL rows for an archive without any pod column', async () => {
    const archive = await createTestArchive();
    try {
      await archive.addFile(DAY, podsDay(), 'old.parquet', POD_COLUMNS);
      await runDailyAnalytics({ config: testConfig(), date: DAY, storage: archive.storage });
      const rows = (await readResult(archive.storage, DAY, 'pod_usage')) ?? [];
      assert.deepEqual(
        rows.map((r) => [r.scope, r.namespace, r.pod]),
        [
          ['fleet', null, null],
          ['namespace', null, null],
        ],
      );
      near(rows[0]?.held_gpu_hours, rows[1]?.held_gpu_hours as number, 'all of the time unattributed');
    } finally {
      await archive.cleanup();
    }
  });
});
