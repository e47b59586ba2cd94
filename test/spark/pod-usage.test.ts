/**
 * pod_usage on Spark gives DuckDB's numbers on a hand-made day of pods (GPUs held, idle, free, a MIG device, a
 * gap), on an archive mixing a file without the pod columns with a newer one, and on an archive written before
 * them (only the fleet and namespace NULL rows). Needs the Spark Connect server of
 * scripts/services/spark-connect.sh; fails without it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runDailyAnalytics } from '../../src/analytics/daily-job.ts';
import type { JsonRow } from '../../src/analytics/engine.ts';
import { SparkEngine } from '../../src/analytics/engines/spark/spark-engine.ts';
import { readResult } from '../../src/analytics/results.ts';
import { createTestArchive, GPU_B, type TestArchive, testConfig } from '../../src/analytics/testing.ts';
import { POD_COLUMNS, podsDay } from '../../src/analytics/testing-pods.ts';
import { assertSameRows, sparkRemote } from './helpers.ts';

const DAY = '2026-01-15';

/** pod_usage of the archive's day on each engine. */
async function podUsageOnBoth(archive: TestArchive): Promise<Record<'duckdb' | 'spark', JsonRow[]>> {
  const out = {} as Record<'duckdb' | 'spark', JsonRow[]>;
  for (const engine of ['duckdb', 'spark'] as const) {
    await runDailyAnalytics({
      config: testConfig(),
      date: DAY,
      storage: archive.storage,
      ...(engine === 'spark' ? { engine: new SparkEngine({ remote: sparkRemote() }) } : {}),
    });
    out[engine] = (await readResult(archive.storage, DAY, 'pod_usage')) ?? [];
  }
  return out;
}

describe('pod_usage on Spark', () => {
  const archives: TestArchive[] = [];
  const archive = async () => {
    const a = await createTestArchive();
    archives.push(a);
    return a;
  };
  before(() => {
    sparkRemote();
  });
  after(async () => {
    for (const a of archives) await a.cleanup();
  });

  it("gives DuckDB's rows for pods, namespaces, the free GPUs' time and the fleet", async () => {
    const a = await archive();
    await a.addFile(DAY, podsDay());
    const { duckdb, spark } = await podUsageOnBoth(a);
    assert.equal(duckdb.length, 7);
    assert.ok(duckdb.some((r) => r.scope === 'namespace' && r.namespace === null));
    assertSameRows(duckdb, spark, 'pod_usage');
  });

  it("gives DuckDB's rows for a day split between a file without the pod columns and a newer one", async () => {
    const a = await archive();
    const samples = podsDay();
    await a.addFile(
      DAY,
      samples.filter((s) => s.uuid === GPU_B.uuid),
      'old.parquet',
      POD_COLUMNS,
    );
    await a.addFile(
      DAY,
      samples.filter((s) => s.uuid !== GPU_B.uuid),
      'new.parquet',
    );
    const { duckdb, spark } = await podUsageOnBoth(a);
    assert.equal(
      duckdb.some((r) => r.pod === 'notebook-1'),
      false,
    );
    assertSameRows(duckdb, spark, 'pod_usage (old and new files)');
  });

  it('analyses an archive written before the pod columns: the fleet and namespace NULL rows, on both engines', async () => {
    const a = await archive();
    await a.addFile(DAY, podsDay(), 'old.parquet', POD_COLUMNS);
    const { duckdb, spark } = await podUsageOnBoth(a);
    assert.deepEqual(
      spark.map((r) => [r.scope, r.namespace, r.pod]),
      [
        ['fleet', null, null],
        ['namespace', null, null],
      ],
    );
    assertSameRows(duckdb, spark, 'pod_usage (no pod columns)');
  });
});
