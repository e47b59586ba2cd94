import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { ResultReader } from '../analytics/results.ts';
import { createTestArchive, GPU_A, GPU_B, sample, type TestArchive } from '../analytics/testing.ts';
import type { GpuSample } from '../metrics/sample.ts';
import { LiveState } from '../pipeline/live-state.ts';
import type { ApiErrorBody, FleetEnergyResponse, HistoryResponse } from './api-types.ts';
import { createApp } from './app.ts';
import { archiveHistory } from './archive-history.ts';
import { bucketWidth, HISTORY_RANGES } from './history.ts';
import { depsOf } from './test-support.ts';

const NOW = Date.parse('2026-01-31T12:00:00Z');
const MIN = 60_000;
const DAY = 86_400_000;
const INTERVAL = 10 * MIN;

/** The archive's samples of GPU A: every 10 minutes from 2026-01-02 on, none on 2026-01-15. */
function archivedSamples(): GpuSample[] {
  const out: GpuSample[] = [];
  for (let ts = Date.parse('2026-01-02T00:00:00Z'); ts < NOW; ts += INTERVAL) {
    if (new Date(ts).toISOString().startsWith('2026-01-15')) continue;
    const i = out.length;
    out.push(
      sample(GPU_A, ts, {
        gpu_utilization_percent: (i * 7) % 100,
        gpu_temperature_celsius: 40 + (i % 30),
        gpu_memory_temperature_celsius: 50,
      }),
    );
  }
  return out;
}

async function errorOf(res: Response): Promise<string> {
  assert.equal(res.status, 400);
  return ((await res.json()) as ApiErrorBody).error.message;
}

describe('GET /api/gpus/:uuid/history: the live buffer, then the Parquet archive, in time buckets', () => {
  let archive: TestArchive;
  let reader: ResultReader;
  const samples = archivedSamples();
  /** The live buffer holds the last 30 minutes, every 10 minutes, with values of its own. */
  const live = new LiveState(30 * MIN);
  const liveSamples = [NOW - 30 * MIN, NOW - 20 * MIN, NOW - 10 * MIN].map((ts) =>
    sample(GPU_A, ts, { gpu_utilization_percent: 99, gpu_temperature_celsius: 90 }),
  );
  live.apply(liveSamples);

  before(async () => {
    archive = await createTestArchive();
    // One file per day; before 2026-01-20 the files are of an older catalog, without the memory temperature.
    const byDate = new Map<string, GpuSample[]>();
    for (const s of samples) {
      const date = new Date(s.ts).toISOString().slice(0, 10);
      byDate.set(date, [...(byDate.get(date) ?? []), s]);
    }
    for (const [date, rows] of byDate) {
      if (date === '2026-01-31') continue; // written below with a UTC-adjusted TIMESTAMPTZ ts
      await archive.addFile(
        date,
        rows,
        undefined,
        date < '2026-01-20' ? ['gpu_memory_temperature_celsius'] : [],
      );
    }
    await writeTimestamptzFile(
      join(archive.root, 'gpu-metrics', 'date=2026-01-31', 'part-tz.parquet'),
      byDate.get('2026-01-31') ?? [],
    );
    reader = new ResultReader(archive.storage, { connections: 2 });
  });

  after(async () => {
    await reader.close();
    await archive.cleanup();
  });

  const appOf = (withArchive = true) =>
    createApp(depsOf(live, withArchive ? { archive: archiveHistory(archive.storage, reader) } : {}), {
      now: () => NOW,
      sampleIntervalMs: INTERVAL,
    });

  async function history(query: string, withArchive = true): Promise<HistoryResponse> {
    const res = await appOf(withArchive).request(`/api/gpus/${GPU_A.uuid}/history?${query}`);
    assert.equal(res.status, 200, await res.clone().text());
    return (await res.json()) as HistoryResponse;
  }

  test('30 days come in at most `points` buckets, each the mean, min and max of its samples', async () => {
    const body = await history(
      'metrics=gpu_utilization_percent,gpu_temperature_celsius&range=30d&points=200',
    );
    assert.deepEqual(body.sources, ['archive', 'live']);
    assert.equal(body.to - body.from, HISTORY_RANGES['30d']);
    assert.equal(body.bucketMs, bucketWidth(30 * DAY, 200, INTERVAL));
    const points = body.ts.filter((_, i) => body.series.gpu_utilization_percent?.mean[i] !== null);
    assert.ok(points.length > 100 && points.length <= 200, `${points.length} points`);
    // Every bucket equals the samples in it, the archive's before the live buffer and the live buffer's after.
    const all = [...samples.filter((s) => s.ts < (liveSamples[0] as GpuSample).ts), ...liveSamples];
    body.ts.forEach((start, i) => {
      const inBucket = all.filter((s) => s.ts >= start && s.ts < start + body.bucketMs);
      const util = body.series.gpu_utilization_percent;
      const temps = inBucket.map((s) => s.gpu_temperature_celsius as number);
      if (inBucket.length === 0) {
        assert.equal(util?.mean[i], null);
        return;
      }
      const values = inBucket.map((s) => s.gpu_utilization_percent as number);
      assert.ok(
        Math.abs((util?.mean[i] as number) - values.reduce((a, b) => a + b, 0) / values.length) < 1e-9,
      );
      assert.equal(util?.min[i], Math.min(...values));
      assert.equal(util?.max[i], Math.max(...values));
      assert.equal(body.series.gpu_temperature_celsius?.max[i], Math.max(...temps));
    });
  });

  test('a day without samples stays a gap: a point of nulls, not a line across it', async () => {
    const body = await history('metrics=gpu_utilization_percent&range=30d&points=200');
    const gaps = body.ts.filter((_, i) => body.series.gpu_utilization_percent?.mean[i] === null);
    assert.equal(gaps.length, 1, gaps.map((t) => new Date(t).toISOString()).join(', '));
    const gap = gaps[0] as number;
    assert.ok(gap >= Date.parse('2026-01-14T12:00:00Z') && gap < Date.parse('2026-01-15T12:00:00Z'));
  });

  test('reads files without a metric (older catalog) as no value, and a TIMESTAMPTZ ts as UTC', async () => {
    const body = await history(
      `metrics=gpu_memory_temperature_celsius&from=2026-01-18T00:00:00Z&to=2026-01-22T00:00:00Z&points=400`,
    );
    const at = (iso: string) =>
      body.series.gpu_memory_temperature_celsius?.mean[body.ts.indexOf(Date.parse(iso))];
    assert.equal(at('2026-01-19T06:00:00Z'), null);
    assert.equal(at('2026-01-21T06:00:00Z'), 50);
    const tz = await history(
      `metrics=gpu_utilization_percent&from=${NOW - 12 * 60 * MIN}&to=${NOW - 60 * MIN}`,
    );
    const expected = samples.filter((s) => s.ts >= NOW - 12 * 60 * MIN && s.ts < NOW - 60 * MIN);
    assert.deepEqual(
      tz.ts,
      expected.map((s) => s.ts),
    );
    assert.deepEqual(
      tz.series.gpu_utilization_percent?.mean,
      expected.map((s) => s.gpu_utilization_percent),
    );
  });

  test('the last hour: the archive up to the live buffer, then the live buffer, each sample once', async () => {
    const body = await history('metrics=gpu_utilization_percent&range=1h');
    const expected = [
      ...samples.filter((s) => s.ts >= NOW - 60 * MIN && s.ts < NOW - 30 * MIN),
      ...liveSamples,
    ];
    assert.deepEqual(
      body.ts,
      expected.map((s) => s.ts),
    );
    assert.deepEqual(
      body.series.gpu_utilization_percent?.mean,
      expected.map((s) => s.gpu_utilization_percent),
    );
    const liveOnly = await history('metrics=gpu_utilization_percent&range=1h', false);
    assert.deepEqual(liveOnly.sources, ['live']);
    assert.deepEqual(
      liveOnly.ts,
      liveSamples.map((s) => s.ts),
    );
  });

  test('an unknown GPU is 404 without an archive, and no points with one', async () => {
    const res = await appOf(false).request('/api/gpus/GPU-none/history?metrics=gpu_utilization_percent');
    assert.equal(res.status, 404);
    const body = (await (
      await appOf().request('/api/gpus/GPU-none/history?metrics=gpu_utilization_percent&range=7d')
    ).json()) as HistoryResponse;
    assert.deepEqual(body.ts, []);
    assert.deepEqual(body.sources, []);
  });

  test('a bad parameter is 400 naming it', async () => {
    const app = appOf();
    const ask = (q: string) => app.request(`/api/gpus/${GPU_A.uuid}/history?${q}`);
    assert.match(await errorOf(await ask('range=1h')), /query parameter metrics is required/);
    assert.match(
      await errorOf(await ask('metrics=nope&range=1h')),
      /query parameter metrics: unknown metric "nope"/,
    );
    assert.match(
      await errorOf(await ask('metrics=gpu_utilization_percent&range=2h')),
      /query parameter range must be one of 15m, 1h, 6h, 24h, 7d, 30d, got "2h"/,
    );
    assert.match(
      await errorOf(await ask('metrics=gpu_utilization_percent&from=2026-01-01T00:00:00Z')),
      /query parameter to is required/,
    );
    assert.match(
      await errorOf(await ask('metrics=gpu_utilization_percent&from=yesterday&to=2026-01-02T00:00:00Z')),
      /query parameter from must be epoch ms or an ISO 8601 time, got "yesterday"/,
    );
    assert.match(
      await errorOf(
        await ask('metrics=gpu_utilization_percent&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z'),
      ),
      /query parameter to must be after from/,
    );
    assert.match(
      await errorOf(await ask('metrics=gpu_utilization_percent&range=1h&from=1&to=2')),
      /query parameter range cannot go with from and to/,
    );
    assert.match(
      await errorOf(await ask('metrics=gpu_utilization_percent&from=0&to=99999999999')),
      /query parameters from and to: at most 400 days apart/,
    );
    assert.match(
      await errorOf(await ask('metrics=gpu_utilization_percent&range=1h&points=5')),
      /query parameter points must be an integer 10\.\.5000, got "5"/,
    );
  });
});

/** A samples file whose ts is a TIMESTAMPTZ (UTC-adjusted), with only ts, the identity, utilization and temperature. */
async function writeTimestamptzFile(file: string, samples: readonly GpuSample[]): Promise<void> {
  await mkdir(join(file, '..'), { recursive: true });
  const rows = samples
    .map(
      (s) =>
        `(make_timestamptz(${s.ts * 1000}::BIGINT), '${s.host}', ${s.gpu_index}, '${s.uuid}', '${s.model}', ${s.gpu_utilization_percent}, ${s.gpu_temperature_celsius})`,
    )
    .join(', ');
  const db = await DuckDBInstance.create(':memory:');
  const connection = await db.connect();
  try {
    await connection.run("SET TimeZone = 'UTC'");
    await connection.run(
      `COPY (SELECT * FROM (VALUES ${rows}) AS t(ts, host, gpu_index, uuid, model, gpu_utilization_percent, gpu_temperature_celsius)) ` +
        `TO '${file}' (FORMAT parquet)`,
    );
  } finally {
    connection.closeSync();
    db.closeSync();
  }
}

describe('GET /api/fleet/energy: the energy the fleet used since a time, from the energy counters', () => {
  const from = Date.parse('2026-01-31T00:00:00Z');
  const now = Date.parse('2026-01-31T12:00:00Z');
  let archive: TestArchive;
  let reader: ResultReader;
  const live = new LiveState(60 * MIN);

  before(async () => {
    archive = await createTestArchive();
    // GPU A: before the range (not counted), then from 1 MJ at 01:00 to 8.2 MJ at 11:00 in the archive.
    await archive.addFile('2026-01-30', [
      sample(GPU_A, from - 3_600_000, { gpu_energy_joules_total: 500_000 }),
    ]);
    await archive.addFile('2026-01-31', [
      sample(GPU_A, from + 3_600_000, { gpu_energy_joules_total: 1_000_000 }),
      sample(GPU_A, from + 11 * 3_600_000, { gpu_energy_joules_total: 8_200_000 }),
    ]);
    // Live: GPU A's latest reading 8.2 MJ -> 8.56 MJ; GPU B live only, 2 MJ -> 2.36 MJ; GPU C's counter went back.
    const gpuC = { ...GPU_B, uuid: 'GPU-cccc', gpu_index: 2 };
    live.apply([
      sample(GPU_A, now - 30 * MIN, { gpu_energy_joules_total: 8_300_000 }),
      sample(GPU_B, now - 30 * MIN, { gpu_energy_joules_total: 2_000_000 }),
      sample(gpuC, now - 30 * MIN, { gpu_energy_joules_total: 900_000 }),
    ]);
    live.apply([
      sample(GPU_A, now - MIN, { gpu_energy_joules_total: 8_560_000 }),
      sample(GPU_B, now - MIN, { gpu_energy_joules_total: 2_360_000 }),
      sample(gpuC, now - MIN, { gpu_energy_joules_total: 100 }),
    ]);
    reader = new ResultReader(archive.storage, { connections: 1 });
  });

  after(async () => {
    await reader.close();
    await archive.cleanup();
  });

  const appOf = () =>
    createApp(depsOf(live, { archive: archiveHistory(archive.storage, reader) }), { now: () => now });

  test("each GPU's rise since the time, the archive's first reading to the live latest, summed", async () => {
    const res = await appOf().request(`/api/fleet/energy?from=${new Date(from).toISOString()}`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as FleetEnergyResponse;
    // A: 8.56 - 1.0 MJ; B: 2.36 - 2.0 MJ; C left out.
    assert.equal(body.gpus, 2);
    assert.ok(Math.abs(body.kwh - (7_560_000 + 360_000) / 3_600_000) < 1e-9, `${body.kwh}`);
    assert.deepEqual([body.from, body.to], [from, now]);
  });

  test('a missing or bad from is 400 naming it', async () => {
    for (const query of ['', '?from=yesterday', `?from=${now + 1}`]) {
      const res = await appOf().request(`/api/fleet/energy${query}`);
      assert.match(await errorOf(res), /query parameter from must be epoch ms or an ISO 8601 time/);
    }
  });
});
