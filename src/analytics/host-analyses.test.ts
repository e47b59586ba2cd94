import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isGpumonError } from '../errors.ts';
import type { GpuSample } from '../metrics/sample.ts';
import { ANALYSES } from './analyses.ts';
import { runDailyAnalytics } from './daily-job.ts';
import type { JsonRow } from './engine.ts';
import { readResult } from './results.ts';
import {
  analyze,
  at,
  createTestArchive,
  GPU_A,
  GPU_B,
  rowOf,
  sample,
  type TestGpu,
  testConfig,
} from './testing.ts';

const GiB = 1024 ** 3;
/** A GPU of a second host. */
const GPU_C: TestGpu = { host: 'node-b', gpu_index: 0, uuid: 'GPU-cccc', model: 'Test GPU' };
const HOST_COLUMNS = [
  'host_cpu_temperature_celsius',
  'host_cpu_utilization_percent',
  'host_memory_used_bytes',
  'host_memory_total_bytes',
];

/** The host's reading of one instant, as every GPU sample of the host carries it. */
type HostReading = Partial<
  Pick<
    GpuSample,
    | 'host_cpu_temperature_celsius'
    | 'host_cpu_utilization_percent'
    | 'host_memory_used_bytes'
    | 'host_memory_total_bytes'
  >
>;

/** One sample per GPU of `gpus` (one host) at each instant, `stepSeconds` apart, carrying that instant's reading. */
function hostDay(
  gpus: readonly TestGpu[],
  start: number,
  stepSeconds: number,
  readings: readonly HostReading[],
  gpuMetrics: (gpu: TestGpu, i: number) => Partial<GpuSample> = () => ({}),
): GpuSample[] {
  return readings.flatMap((reading, i) =>
    gpus.map((gpu) => sample(gpu, start + i * stepSeconds * 1000, { ...reading, ...gpuMetrics(gpu, i) })),
  );
}

const cpu = (celsius: number | null): HostReading => ({ host_cpu_temperature_celsius: celsius });

/** Floating-point equality to 9 significant digits. */
function near(actual: unknown, expected: number, what = 'value'): void {
  assert.equal(typeof actual, 'number', `${what} is ${String(actual)}`);
  const tolerance = Math.max(1e-12, Math.abs(expected) * 1e-9);
  assert.ok(Math.abs((actual as number) - expected) <= tolerance, `${what}: ${actual} != ${expected}`);
}

function hostRow(rows: readonly JsonRow[], host?: string): JsonRow {
  const row = rows.find((r) =>
    host === undefined ? r.scope === 'fleet' : r.scope === 'host' && r.host === host,
  );
  if (!row) throw new Error(`no row for ${host ?? 'the fleet'} in ${JSON.stringify(rows)}`);
  return row;
}

describe('host_daily_stats', () => {
  it('counts a host with several GPUs once per instant, not once per GPU', async () => {
    // node-a has two GPUs, both samples of an instant carry the host's reading: 3 instants, not 6.
    const samples = [
      ...hostDay([GPU_A, GPU_B], at('10:00:00'), 10, [cpu(50), cpu(60), cpu(70)]),
      ...hostDay([GPU_C], at('10:00:00'), 10, [cpu(40), cpu(42)]),
    ];
    const { read } = await analyze(samples, { 'alerts.highCpuTempCelsius': 60 });
    const rows = await read('host_daily_stats');
    assert.deepEqual(
      rows.map((r) => [r.scope, r.host, r.sample_count]),
      [
        ['fleet', null, 5],
        ['host', 'node-a', 3],
        ['host', 'node-b', 2],
      ],
    );
    const a = hostRow(rows, 'node-a');
    assert.equal(a.cpu_temperature_avg_celsius, 60);
    assert.equal(a.cpu_temperature_min_celsius, 50);
    assert.equal(a.cpu_temperature_max_celsius, 70);
    assert.equal(a.cpu_temperature_stddev_celsius, 10);
    assert.equal(a.cpu_temperature_p50_celsius, 60);
    near(a.cpu_temperature_p95_celsius, 69);
    near(a.cpu_temperature_p99_celsius, 69.8);
    assert.equal(a.alerts_high_cpu_temperature, 2, '60 and 70 are at or above 60, counted once each');
    assert.equal(a.alerts_cpu_temperature_spike, 2, '+10 twice, once per host');
    const fleet = hostRow(rows);
    // Over the fleet's 5 instants: 50, 60, 70, 40, 42.
    near(fleet.cpu_temperature_avg_celsius, 262 / 5);
    assert.equal(fleet.cpu_temperature_min_celsius, 40);
    assert.equal(fleet.cpu_temperature_p50_celsius, 50);
    assert.equal(fleet.alerts_high_cpu_temperature, 2);
    assert.equal(fleet.alerts_cpu_temperature_spike, 2);
    assert.equal(hostRow(rows, 'node-b').alerts_cpu_temperature_spike, 0);
    assert.deepEqual(
      (await read('host_temperature_spikes')).map((s) => [s.host, s.ts, s.from_celsius, s.to_celsius]),
      [
        ['node-a', at('10:00:10'), 50, 60],
        ['node-a', at('10:00:20'), 60, 70],
      ],
    );
  });

  it('leaves a missing CPU reading out (NULL, not 0), and takes the copy that has it', async () => {
    // 10:00:10: no GPU carries the CPU temperature; 10:00:20: only GPU B's sample carries it.
    const samples = [
      ...hostDay([GPU_A, GPU_B], at('10:00:00'), 10, [cpu(50), cpu(null)]),
      sample(GPU_A, at('10:00:20'), cpu(null)),
      sample(GPU_B, at('10:00:20'), cpu(54)),
    ];
    const { read } = await analyze(samples);
    const a = hostRow(await read('host_daily_stats'), 'node-a');
    assert.equal(a.sample_count, 2, 'the instant without any host reading is no host sample');
    assert.equal(a.cpu_temperature_min_celsius, 50);
    assert.equal(a.cpu_temperature_avg_celsius, 52);
    assert.equal(a.cpu_utilization_avg_percent, null);
    assert.equal(a.memory_used_avg_bytes, null);
    assert.equal(a.memory_used_avg_share, null);
  });

  it('averages and peaks the system memory, with its share of the installed memory', async () => {
    const mem = (used: number, total: number | null, util: number): HostReading => ({
      host_memory_used_bytes: used * GiB,
      host_memory_total_bytes: total === null ? null : total * GiB,
      host_cpu_utilization_percent: util,
    });
    const samples = hostDay([GPU_A, GPU_B], at('10:00:00'), 10, [
      mem(16, 64, 10),
      mem(32, 64, 30),
      mem(48, null, 50),
    ]);
    const { read } = await analyze(samples);
    const a = hostRow(await read('host_daily_stats'), 'node-a');
    assert.equal(a.memory_used_avg_bytes, 32 * GiB);
    assert.equal(a.memory_used_max_bytes, 48 * GiB);
    assert.equal(a.memory_total_bytes, 64 * GiB);
    assert.equal(a.memory_used_avg_share, 0.375, 'over the instants whose installed memory is known');
    assert.equal(a.memory_used_max_share, 0.5);
    assert.equal(a.cpu_utilization_avg_percent, 30);
    assert.equal(a.cpu_utilization_max_percent, 50);
    near(a.cpu_utilization_p95_percent, 48);
    assert.equal(a.cpu_temperature_avg_celsius, null);
    assert.equal(a.alerts_high_cpu_temperature, 0);
  });

  it('uses alerts.highCpuTempCelsius, 80 °C by default', async () => {
    const samples = hostDay([GPU_A], at('10:00:00'), 10, [cpu(79.9), cpu(80), cpu(81)]);
    const { read } = await analyze(samples);
    assert.equal(hostRow(await read('host_daily_stats'), 'node-a').alerts_high_cpu_temperature, 2);
  });
});

describe('host_temperature_spikes', () => {
  it('applies the GPU spike rule per host: not across a gap, a missing reading, or exactly the threshold', async () => {
    // maxGapSeconds 60, tempSpikeCelsius 5, two GPUs on the host:
    // 10:00:00 40 -> 10:02:00 50: +10 but 120 s apart, a gap: no spike.
    // 10:02:00 50 -> 10:02:30 56: +6: spike (once, not once per GPU).
    // 10:02:30 56 -> 10:02:40 null -> 10:02:50 70: no pair with a known reading on both ends.
    // 10:02:50 70 -> 10:03:00 75: +5, not more than 5: no spike.
    const at0 = at('10:00:00');
    const samples = [
      ...hostDay([GPU_A, GPU_B], at0, 120, [cpu(40), cpu(50)]),
      ...hostDay([GPU_A, GPU_B], at('10:02:30'), 10, [cpu(56), cpu(null), cpu(70), cpu(75)]),
    ];
    const { read } = await analyze(samples, { 'analytics.maxGapSeconds': 60 });
    assert.deepEqual(await read('host_temperature_spikes'), [
      {
        host: 'node-a',
        ts: at('10:02:30'),
        previous_ts: at('10:02:00'),
        from_celsius: 50,
        to_celsius: 56,
        rise_celsius: 6,
        interval_seconds: 30,
      },
    ]);
    assert.equal(hostRow(await read('host_daily_stats'), 'node-a').alerts_cpu_temperature_spike, 1);
  });

  it('never pairs readings of two hosts', async () => {
    // Interleaved by time: node-a 40, node-b 60, node-a 41, node-b 61: no rise above 5 within a host.
    const samples = [
      sample(GPU_A, at('10:00:00'), cpu(40)),
      sample(GPU_C, at('10:00:01'), cpu(60)),
      sample(GPU_A, at('10:00:02'), cpu(41)),
      sample(GPU_C, at('10:00:03'), cpu(61)),
    ];
    const { read } = await analyze(samples);
    assert.deepEqual(await read('host_temperature_spikes'), []);
  });
});

describe('correlations with the CPU temperature', () => {
  it("gives r of each GPU's temperature with its host's CPU temperature, NULL where the CPU was not read", async () => {
    const samples = [
      // GPU A rises with the CPU, GPU B falls as it rises: r = 1 and -1.
      ...hostDay([GPU_A, GPU_B], at('10:00:00'), 10, [cpu(45), cpu(55), cpu(65)], (gpu, i) => ({
        gpu_temperature_celsius: gpu === GPU_A ? 40 + 10 * i : 70 - 5 * i,
      })),
      ...hostDay([GPU_C], at('10:00:00'), 10, [cpu(null), cpu(null)], (_gpu, i) => ({
        gpu_temperature_celsius: 40 + i,
      })),
    ];
    const { read } = await analyze(samples);
    const rows = await read('correlations');
    near(rowOf(rows, GPU_A.uuid).corr_temperature_cpu_temperature, 1);
    near(rowOf(rows, GPU_B.uuid).corr_temperature_cpu_temperature, -1);
    assert.equal(rowOf(rows, GPU_C.uuid).corr_temperature_cpu_temperature, null);
    assert.equal(typeof rowOf(rows).corr_temperature_cpu_temperature, 'number');
  });
});

describe('summary of the hosts', () => {
  it('counts the hosts with readings and gives the fleet figures of host_daily_stats', async () => {
    const samples = [
      ...hostDay([GPU_A, GPU_B], at('10:00:00'), 10, [cpu(50), cpu(85), cpu(70)]),
      ...hostDay([GPU_C], at('10:00:00'), 10, [cpu(40), cpu(42)]),
    ];
    const { read, result } = await analyze(samples);
    const [summary] = await read('summary');
    assert.equal(summary?.hosts, 2);
    assert.equal(summary?.cpu_temperature_max_celsius, 85);
    assert.equal(summary?.cpu_temperature_spikes, 1);
    assert.equal(summary?.alerts_high_cpu_temperature, 1);
    assert.equal(result.summary.hosts, 2, 'summary.json has them too');
  });
});

describe('reading the host results back', () => {
  it('gives the rows of a host analysis, and refuses to filter one by GPU', async () => {
    const archive = await createTestArchive();
    try {
      const date = '2026-01-15';
      await archive.addFile(date, hostDay([GPU_A, GPU_B], at('10:00:00'), 10, [cpu(50), cpu(58)]));
      await runDailyAnalytics({ config: testConfig(), date, storage: archive.storage });
      const rows = await readResult(archive.storage, date, 'host_daily_stats');
      assert.deepEqual(
        rows?.map((r) => [r.scope, r.host]),
        [
          ['fleet', null],
          ['host', 'node-a'],
        ],
      );
      for (const analysis of ['host_daily_stats', 'host_temperature_spikes', 'summary']) {
        await assert.rejects(
          readResult(archive.storage, date, analysis, { uuid: GPU_A.uuid }),
          (err) => isGpumonError(err, 'USAGE') && err.message.includes(`${analysis} has no rows of GPUs`),
        );
      }
      assert.equal(
        (await readResult(archive.storage, date, 'correlations', { uuid: GPU_A.uuid }))?.length,
        1,
      );
    } finally {
      await archive.cleanup();
    }
  });
});

describe('archives older than the host metrics', () => {
  const gpuOnly = (gpu: TestGpu, time: string, temperature: number) =>
    sample(gpu, at(time), { gpu_temperature_celsius: temperature, gpu_utilization_percent: 50 });

  for (const [what, omit] of [
    ['files without the host columns', HOST_COLUMNS],
    ['files whose host columns are all NULL', []],
  ] as const) {
    it(`analyse ${what}: no host rows, NULL host figures, the GPU results as before`, async () => {
      const archive = await createTestArchive();
      try {
        const date = '2026-01-15';
        await archive.addFile(
          date,
          [gpuOnly(GPU_A, '10:00:00', 40), gpuOnly(GPU_A, '10:00:10', 50), gpuOnly(GPU_C, '10:00:00', 45)],
          'old.parquet',
          omit,
        );
        const result = await runDailyAnalytics({ config: testConfig(), date, storage: archive.storage });
        assert.equal(result.rows.host_daily_stats, 0);
        assert.equal(result.rows.host_temperature_spikes, 0);
        assert.deepEqual(await readResult(archive.storage, date, 'host_daily_stats'), []);
        assert.deepEqual(await readResult(archive.storage, date, 'host_temperature_spikes'), []);
        assert.equal(result.summary.hosts, 0);
        assert.equal(result.summary.cpu_temperature_max_celsius, null);
        assert.equal(result.summary.cpu_temperature_spikes, null);
        assert.equal(result.summary.gpus, 2);
        assert.equal(result.summary.temperature_spikes, 1);
        const correlations = (await readResult(archive.storage, date, 'correlations')) ?? [];
        assert.ok(correlations.length > 0);
        assert.ok(correlations.every((r) => r.corr_temperature_cpu_temperature === null));
      } finally {
        await archive.cleanup();
      }
    });
  }

  it('analyse a mix of old and new files: the host figures come from the new ones', async () => {
    const archive = await createTestArchive();
    try {
      const date = '2026-01-15';
      await archive.addFile(date, [gpuOnly(GPU_A, '09:00:00', 40)], 'old.parquet', HOST_COLUMNS);
      await archive.addFile(
        date,
        hostDay([GPU_A, GPU_B], at('10:00:00'), 10, [cpu(50), cpu(58)]),
        'new.parquet',
      );
      const result = await runDailyAnalytics({ config: testConfig(), date, storage: archive.storage });
      const rows = (await readResult(archive.storage, date, 'host_daily_stats')) ?? [];
      const a = hostRow(rows, 'node-a');
      assert.equal(a.sample_count, 2);
      assert.equal(a.cpu_temperature_avg_celsius, 54);
      assert.equal(a.alerts_cpu_temperature_spike, 1);
      assert.equal(result.summary.hosts, 1);
      assert.ok(ANALYSES.includes('host_daily_stats'));
    } finally {
      await archive.cleanup();
    }
  });
});
