import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { isGpumonError } from '../errors.ts';
import { projectPath } from '../paths.ts';
import { ANALYSES } from './analyses.ts';
import { runDailyAnalytics } from './daily-job.ts';
import { sqlString } from './engines/duckdb.ts';
import { deleteDayStatements, PARTIAL_FIELD, RESULT_MEASUREMENTS, resultPoints } from './influx-results.ts';
import { readResult } from './results.ts';
import { at, createTestArchive, GPU_A, GPU_B, series, type TestArchive, testConfig } from './testing.ts';

const DAY = '2026-01-15';

/** Two GPUs of one host, 08:00 and 09:00, with a spike of 10 °C (GPU and CPU) every 10 samples. */
function samplesOfTheDay() {
  const values = Array.from({ length: 30 }, (_, i) => ({
    host_cpu_temperature_celsius: 60 + (i % 10 === 9 ? 10 : 0),
    host_memory_used_bytes: 2000 * i,
    host_memory_total_bytes: 100_000,
    gpu_temperature_celsius: 50 + (i % 10 === 9 ? 10 : 0),
    gpu_utilization_percent: (i * 37) % 100,
    gpu_power_draw_watts: 150 + i,
    gpu_power_limit_watts: 300,
    gpu_memory_used_bytes: 1000 * i,
    gpu_sm_clock_mhz: 1000 + 10 * i,
  }));
  return [...series(GPU_A, at('08:00:00'), 5, values), ...series(GPU_B, at('09:00:00'), 5, values)];
}

/** A TCP port that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('the daily results as InfluxDB measurements', () => {
  let archive: TestArchive;
  beforeEach(async () => {
    archive = await createTestArchive();
  });
  afterEach(async () => {
    await archive.cleanup();
  });

  it('map every analysis, and every column of its Parquet result to a tag, a field of its type, or the time', async () => {
    assert.deepEqual(RESULT_MEASUREMENTS.map((m) => m.analysis).sort(), [...ANALYSES].sort());
    await archive.addFile(DAY, samplesOfTheDay());
    await runDailyAnalytics({ config: testConfig(), date: DAY, storage: archive.storage });
    const db = await DuckDBInstance.create(':memory:');
    const connection = await db.connect();
    try {
      for (const m of RESULT_MEASUREMENTS) {
        const file = join(archive.root, 'gpu-analytics', `date=${DAY}`, `${m.analysis}.parquet`);
        const reader = await connection.runAndReadAll(
          `DESCRIBE SELECT * FROM read_parquet(${sqlString(file)}, hive_partitioning = false)`,
        );
        const types = new Map(
          reader.getRowObjectsJS().map((r) => [String(r.column_name), String(r.column_type)]),
        );
        const tagged = Object.values(m.tags);
        const timeColumns = m.analysis.endsWith('temperature_spikes') ? ['ts'] : [];
        const covered = [...tagged, ...timeColumns, ...m.fields.map((f) => f.column)].sort();
        assert.deepEqual(covered, [...types.keys()].sort(), `${m.measurement}: columns of ${m.analysis}`);
        for (const f of m.fields) {
          const type = types.get(f.column) ?? '';
          const want =
            f.type === 'float'
              ? /^DOUBLE$/
              : f.type === 'integer'
                ? /^(BIGINT|INTEGER|TIMESTAMP)$/
                : /^VARCHAR$/;
          assert.match(type, want, `${m.measurement}.${f.column} is ${f.type}, the Parquet column ${type}`);
        }
      }
    } finally {
      connection.closeSync();
      db.closeSync();
    }
  });

  /** The points of one analysis of DAY, as the writer makes them from its Parquet rows. */
  const pointsOf = async (analysis: (typeof ANALYSES)[number]) => {
    const m = RESULT_MEASUREMENTS.find((x) => x.analysis === analysis);
    assert.ok(m);
    return resultPoints(m, (await readResult(archive.storage, DAY, analysis)) ?? [], DAY);
  };

  it('put fleet rows under scope=fleet without GPU tags, hours at their hour, spikes at their sample', async () => {
    await archive.addFile(DAY, samplesOfTheDay());
    await runDailyAnalytics({ config: testConfig(), date: DAY, storage: archive.storage });
    const daily = await pointsOf('daily_stats');
    const fleet = daily.find((p) => p.tags.scope === 'fleet');
    assert.deepEqual(fleet?.tags, { scope: 'fleet', host: null, gpu: null, uuid: null, model: null });
    assert.equal(fleet?.ts, at('00:00:00'));
    assert.deepEqual(fleet?.fields.sample_count, { type: 'integer', value: 60 });
    const a = daily.find((p) => p.tags.uuid === GPU_A.uuid);
    assert.deepEqual(a?.tags, {
      scope: 'gpu',
      host: 'node-a',
      gpu: '0',
      uuid: 'GPU-aaaa',
      model: 'Test GPU',
    });

    const hours = await pointsOf('hourly_patterns');
    assert.deepEqual(
      hours.map((p) => `${p.tags.scope} ${p.tags.uuid ?? '-'} ${new Date(p.ts).toISOString()}`),
      [
        `fleet - ${DAY}T08:00:00.000Z`,
        `fleet - ${DAY}T09:00:00.000Z`,
        `gpu GPU-aaaa ${DAY}T08:00:00.000Z`,
        `gpu GPU-bbbb ${DAY}T09:00:00.000Z`,
      ],
    );

    const spikes = await pointsOf('temperature_spikes');
    assert.equal(spikes.length, 6); // samples 9, 19, 29 of each GPU
    assert.equal(spikes[0]?.ts, at('08:00:45'));
    assert.deepEqual(spikes[0]?.fields.previous_ts, { type: 'integer', value: at('08:00:40') });
    assert.deepEqual(spikes[0]?.fields.rise_celsius, { type: 'float', value: 10 });
  });

  it('put host rows under scope=host with the host tag, the fleet without, CPU spikes at their instant', async () => {
    await archive.addFile(DAY, samplesOfTheDay());
    await runDailyAnalytics({ config: testConfig(), date: DAY, storage: archive.storage });
    const daily = await pointsOf('host_daily_stats');
    assert.deepEqual(
      daily.map((p) => [p.measurement, p.tags, p.ts]),
      [
        ['host_daily_stats', { scope: 'fleet', host: null }, at('00:00:00')],
        ['host_daily_stats', { scope: 'host', host: 'node-a' }, at('00:00:00')],
      ],
    );
    assert.deepEqual(daily[1]?.fields.sample_count, { type: 'integer', value: 60 });
    assert.deepEqual(daily[1]?.fields.memory_total_bytes, { type: 'integer', value: 100_000 });
    assert.deepEqual(daily[1]?.fields.alerts_cpu_temperature_spike, { type: 'integer', value: 6 });
    const spikes = await pointsOf('host_temperature_spikes');
    assert.equal(spikes.length, 6);
    assert.deepEqual(spikes[0]?.tags, { host: 'node-a' });
    assert.equal(spikes[0]?.ts, at('08:00:45'));
    assert.deepEqual(spikes[0]?.fields.from_celsius, { type: 'float', value: 60 });
  });

  it('delete the day of every measurement, from midnight to midnight UTC', () => {
    const statements = deleteDayStatements(DAY).split('; ');
    assert.equal(statements.length, RESULT_MEASUREMENTS.length);
    assert.equal(
      statements[0],
      `DELETE FROM "gpu_daily_stats" WHERE time >= '${DAY}T00:00:00.000Z' AND time < '2026-01-16T00:00:00.000Z'`,
    );
  });

  it('are each listed in docs/influxdb.md with every field', () => {
    const doc = readFileSync(projectPath('docs', 'influxdb.md'), 'utf8');
    for (const m of RESULT_MEASUREMENTS) {
      const at = doc.indexOf(`### \`${m.measurement}\``);
      assert.ok(at >= 0, `docs/influxdb.md has no section ### \`${m.measurement}\``);
      const end = doc.indexOf('\n### ', at + 1);
      const section = doc.slice(at, end < 0 ? undefined : end);
      for (const f of m.fields)
        assert.ok(section.includes(`\`${f.column}\``), `${m.measurement}.${f.column}`);
      for (const tag of Object.keys(m.tags))
        assert.ok(section.includes(`\`${tag}\``), `${m.measurement} ${tag}`);
      if (m.analysis === 'summary') assert.ok(section.includes(`\`${PARTIAL_FIELD}\``));
    }
  });

  it('fail the day with ANALYTICS_INFLUXDB_WRITE_FAILED when InfluxDB cannot be reached, the Parquet results published', async () => {
    await archive.addFile(DAY, samplesOfTheDay());
    const url = `http://127.0.0.1:${await closedPort()}`;
    const steps: string[] = [];
    await assert.rejects(
      runDailyAnalytics({
        config: testConfig({
          'analytics.writeInfluxdb': true,
          'influxdb.url': url,
          'influxdb.timeoutMs': 2000,
        }),
        date: DAY,
        storage: archive.storage,
        onProgress: (step) => steps.push(step),
      }),
      (err) => {
        assert.ok(isGpumonError(err, 'ANALYTICS_INFLUXDB_WRITE_FAILED'), String(err));
        assert.match(err.message, new RegExp(`results of ${DAY} to InfluxDB ${url}`));
        assert.match(err.message, /ECONNREFUSED/);
        assert.match(err.message, /Parquet results are published at .*gpu-analytics\/date=2026-01-15/);
        return true;
      },
    );
    assert.equal(steps.at(-1), 'publish');
    const daily = await readResult(archive.storage, DAY, 'daily_stats');
    assert.equal(daily?.length, 3);
  });
});
