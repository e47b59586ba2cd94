/**
 * The host analyses on Spark give DuckDB's numbers on hand-made days (a host with several GPUs, a spike, a gap,
 * a missing CPU reading), and archives written before the host metrics (the columns absent, or all NULL)
 * analyse on Spark with no host rows. Needs the Spark Connect server of scripts/services/spark-connect.sh;
 * fails without it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type AnalysisName, hasGpuRows } from '../../src/analytics/analyses.ts';
import { type DailyResult, runDailyAnalytics } from '../../src/analytics/daily-job.ts';
import type { JsonRow } from '../../src/analytics/engine.ts';
import { SparkEngine } from '../../src/analytics/engines/spark/spark-engine.ts';
import { readResult } from '../../src/analytics/results.ts';
import {
  at,
  createTestArchive,
  GPU_A,
  GPU_B,
  sample,
  type TestArchive,
  type TestGpu,
  testConfig,
} from '../../src/analytics/testing.ts';
import type { GpuSample } from '../../src/metrics/sample.ts';
import { assertSameRows, sparkRemote } from './helpers.ts';

const GPU_C: TestGpu = { host: 'node-b', gpu_index: 0, uuid: 'GPU-cccc', model: 'Test GPU' };
const HOST_ANALYSES: readonly AnalysisName[] = ['host_daily_stats', 'host_temperature_spikes'];
const HOST_COLUMNS = [
  'host_cpu_temperature_celsius',
  'host_cpu_utilization_percent',
  'host_memory_used_bytes',
  'host_memory_total_bytes',
];
const GiB = 1024 ** 3;

/** node-a's two GPUs every 10 s carrying the host's readings, node-b's one; a gap, a spike, missing readings. */
function hostsDay(date: string): GpuSample[] {
  const out: GpuSample[] = [];
  for (let i = 0; i < 360; i++) {
    if (i >= 100 && i < 120) continue; // 200 s without samples: a gap
    const t = at('10:00:00', date) + i * 10_000;
    const cpu = i % 50 === 0 ? null : 50 + (i % 9) + (i % 37 === 36 ? 12 : 0) + i / 100;
    const host = {
      host_cpu_temperature_celsius: cpu,
      host_cpu_utilization_percent: 20 + ((i * 7) % 60) + 0.25,
      host_memory_used_bytes: (100 + (i % 17)) * GiB,
      host_memory_total_bytes: i % 40 === 0 ? null : 512 * GiB,
    };
    for (const gpu of [GPU_A, GPU_B]) {
      out.push(sample(gpu, t, { ...host, gpu_temperature_celsius: 40 + (i % 13) + gpu.gpu_index }));
    }
    out.push(
      sample(GPU_C, t + 3000, {
        host_cpu_temperature_celsius: 60 + (i % 5) * 1.5,
        host_memory_used_bytes: 8 * GiB,
        host_memory_total_bytes: 16 * GiB,
        gpu_temperature_celsius: 55 + (i % 7),
      }),
    );
  }
  return out;
}

async function runBoth(
  archive: TestArchive,
  date: string,
): Promise<Record<'duckdb' | 'spark', { result: DailyResult; rows: Map<AnalysisName, JsonRow[]> }>> {
  const config = testConfig({ 'alerts.highCpuTempCelsius': 60, 'alerts.tempSpikeCelsius': 5 });
  const out = {} as Record<'duckdb' | 'spark', { result: DailyResult; rows: Map<AnalysisName, JsonRow[]> }>;
  for (const engine of ['duckdb', 'spark'] as const) {
    const result = await runDailyAnalytics({
      config,
      date,
      storage: archive.storage,
      ...(engine === 'spark' ? { engine: new SparkEngine({ remote: sparkRemote() }) } : {}),
    });
    const rows = new Map<AnalysisName, JsonRow[]>();
    for (const analysis of [...HOST_ANALYSES, 'correlations', 'summary'] as const) {
      rows.set(analysis, (await readResult(archive.storage, date, analysis)) ?? []);
    }
    out[engine] = { result, rows };
  }
  return out;
}

describe('the host analyses on Spark', () => {
  let archive: TestArchive;
  before(async () => {
    archive = await createTestArchive();
  });
  after(() => archive?.cleanup());

  it('give the numbers DuckDB gives: each host counted once, spikes not across the gap nor a missing reading', async () => {
    const date = '2026-01-15';
    await archive.addFile(date, hostsDay(date));
    const { duckdb, spark } = await runBoth(archive, date);
    for (const analysis of [...HOST_ANALYSES, 'correlations', 'summary'] as const) {
      const expected = duckdb.rows.get(analysis) ?? [];
      assert.ok(expected.length > 0, `${analysis} has rows`);
      assertSameRows(expected, spark.rows.get(analysis) ?? [], analysis);
    }
    const stats = duckdb.rows.get('host_daily_stats') ?? [];
    const a = stats.find((r) => r.host === 'node-a');
    assert.equal(a?.sample_count, 340, 'node-a: 340 instants, not 680 GPU samples');
    assert.ok(Number(a?.alerts_cpu_temperature_spike) >= 5, `spikes: ${a?.alerts_cpu_temperature_spike}`);
    assert.ok(Number(a?.alerts_high_cpu_temperature) > 0);
    const spikes = duckdb.rows.get('host_temperature_spikes') ?? [];
    assert.ok(
      spikes.every((s) => Number(s.interval_seconds) <= 60),
      'no spike across the gap',
    );
    assert.equal(spark.result.summary.hosts, 2);
  });

  for (const [what, omit] of [
    ['without the host columns', HOST_COLUMNS],
    ['with the host columns all NULL', []],
  ] as const) {
    it(`analyse an archive ${what}: no host rows, NULL host figures, as DuckDB`, async () => {
      const date = omit.length > 0 ? '2026-01-16' : '2026-01-17';
      const samples = [0, 1, 2].flatMap((i) =>
        [GPU_A, GPU_C].map((gpu) =>
          sample(gpu, at('10:00:00', date) + i * 10_000, { gpu_temperature_celsius: 40 + 8 * i }),
        ),
      );
      await archive.addFile(date, samples, 'old.parquet', omit);
      const { duckdb, spark } = await runBoth(archive, date);
      for (const analysis of HOST_ANALYSES) {
        assert.deepEqual(spark.rows.get(analysis), [], `${analysis} on Spark`);
        assert.deepEqual(duckdb.rows.get(analysis), [], `${analysis} on DuckDB`);
        assert.equal(spark.result.rows[analysis], 0);
      }
      assert.equal(spark.result.summary.hosts, 0);
      assert.equal(spark.result.summary.cpu_temperature_max_celsius, null);
      assert.equal(spark.result.summary.temperature_spikes, 4);
      assertSameRows(duckdb.rows.get('summary') ?? [], spark.rows.get('summary') ?? [], 'summary');
      assert.ok(
        (spark.rows.get('correlations') ?? []).every((r) => r.corr_temperature_cpu_temperature === null),
      );
      assert.ok(!HOST_ANALYSES.some(hasGpuRows));
    });
  }
});
