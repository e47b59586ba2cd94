import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import type { GpuSample } from '../metrics/sample.ts';
import { AlertEvaluator } from '../pipeline/alerts.ts';
import { analyze, at, GPU_A, GPU_B, rowOf, sample, series, type TestGpu, testConfig } from './testing.ts';

const GiB = 1024 ** 3;

/** Floating-point equality to 9 significant digits. */
function near(actual: unknown, expected: number, what = 'value'): void {
  assert.equal(typeof actual, 'number', `${what} is ${String(actual)}`);
  const tolerance = Math.max(1e-12, Math.abs(expected) * 1e-9);
  assert.ok(Math.abs((actual as number) - expected) <= tolerance, `${what}: ${actual} != ${expected}`);
}

describe('temperature_spikes', () => {
  it('never pairs samples of two GPUs, even interleaved in one file', async () => {
    // By time: A 40, B 60, A 41, B 61, A 42, B 62, B 70. Taken in file order, A40 -> B60 (+20) and
    // A41 -> B61 (+20) would look like spikes; per GPU the rises are +1, +1 (A) and +1, +1, +8 (B).
    const t0 = at('10:00:00');
    const samples = [
      sample(GPU_A, t0, { gpu_temperature_celsius: 40 }),
      sample(GPU_B, t0 + 1000, { gpu_temperature_celsius: 60 }),
      sample(GPU_A, t0 + 2000, { gpu_temperature_celsius: 41 }),
      sample(GPU_B, t0 + 3000, { gpu_temperature_celsius: 61 }),
      sample(GPU_A, t0 + 4000, { gpu_temperature_celsius: 42 }),
      sample(GPU_B, t0 + 5000, { gpu_temperature_celsius: 62 }),
      sample(GPU_B, t0 + 7000, { gpu_temperature_celsius: 70 }),
    ];
    const { read } = await analyze(samples);
    const spikes = await read('temperature_spikes');
    assert.deepEqual(spikes, [
      {
        host: 'node-a',
        gpu_index: 1,
        uuid: 'GPU-bbbb',
        model: 'Test GPU',
        ts: t0 + 7000,
        previous_ts: t0 + 5000,
        from_celsius: 62,
        to_celsius: 70,
        rise_celsius: 8,
        interval_seconds: 2,
      },
    ]);
  });

  it('ignores a rise across a gap longer than maxGapSeconds, and a rise of exactly the threshold', async () => {
    // maxGapSeconds 60, tempSpikeCelsius 5:
    // 10:00:00 40 -> 10:02:00 50: +10 but 120 s apart, a gap: no spike.
    // 10:02:00 50 -> 10:02:30 56: +6 in 30 s: spike.
    // 10:02:30 56 -> 10:03:30 62: +6 in exactly 60 s (<= max gap): spike.
    // 10:03:30 62 -> 10:03:31 67: +5, not more than 5: no spike.
    const samples = [
      sample(GPU_A, at('10:00:00'), { gpu_temperature_celsius: 40 }),
      sample(GPU_A, at('10:02:00'), { gpu_temperature_celsius: 50 }),
      sample(GPU_A, at('10:02:30'), { gpu_temperature_celsius: 56 }),
      sample(GPU_A, at('10:03:30'), { gpu_temperature_celsius: 62 }),
      sample(GPU_A, at('10:03:31'), { gpu_temperature_celsius: 67 }),
    ];
    const { read } = await analyze(samples);
    const spikes = await read('temperature_spikes');
    assert.deepEqual(
      spikes.map((s) => [s.ts, s.from_celsius, s.to_celsius, s.rise_celsius]),
      [
        [at('10:02:30'), 50, 56, 6],
        [at('10:03:30'), 56, 62, 6],
      ],
    );
    assert.equal(rowOf(await read('daily_stats'), GPU_A.uuid).alerts_temperature_spike, 2);
  });

  it('does not compare with a sample whose temperature is unknown', async () => {
    // 40, null, 50: the live rules compare each sample with the one just before it only, so no spike.
    const samples = series(GPU_A, at('10:00:00'), 1, [
      { gpu_temperature_celsius: 40 },
      { gpu_temperature_celsius: null },
      { gpu_temperature_celsius: 50 },
    ]);
    const { read } = await analyze(samples);
    assert.deepEqual(await read('temperature_spikes'), []);
  });
});

describe('daily_stats', () => {
  it('integrates energy over time with the trapezoid rule, a gap contributing nothing', async () => {
    // 100 W at 10:00:00, :01, :02, :03: 3 intervals of 1 s at (100 + 100) / 2 W = 300 J.
    // Then nothing until 10:05:00 (297 s > maxGapSeconds 60: a gap, 0 J).
    // 200 W at 10:05:00, :01, :02: 2 intervals of 1 s at 200 W = 400 J.
    // Total 700 J = 700 / 3.6e6 kWh (a sum of watts would say 4 * 100 + 3 * 200 = 1000).
    const samples = [
      ...series(GPU_A, at('10:00:00'), 1, Array(4).fill({ gpu_power_draw_watts: 100 })),
      ...series(GPU_A, at('10:05:00'), 1, Array(3).fill({ gpu_power_draw_watts: 200 })),
    ];
    const { read } = await analyze(samples);
    near(rowOf(await read('daily_stats'), GPU_A.uuid).energy_kwh, 700 / 3.6e6, 'energy_kwh');
  });

  it('averages the two ends of an interval whose power changes', async () => {
    // 100 W at 10:00:00, 300 W at 10:00:02: (100 + 300) / 2 * 2 s = 400 J; then 300 W -> null: no pair.
    const samples = series(GPU_A, at('10:00:00'), 2, [
      { gpu_power_draw_watts: 100 },
      { gpu_power_draw_watts: 300 },
      { gpu_power_draw_watts: null },
    ]);
    const { read } = await analyze(samples);
    near(rowOf(await read('daily_stats'), GPU_A.uuid).energy_kwh, 400 / 3.6e6, 'energy_kwh');
  });

  it('computes the figures of each GPU and of the fleet over all its samples', async () => {
    // A, 1 s apart: temperature 40 42 44 46, load 10 20 30 40, power 100 W, limit 200 W, memory 1000..4000.
    // B, 1 s apart: temperature 85 90, load 95 100, power 190 200 W (95 %, 100 % of 200 W), memory unknown.
    const a = series(
      GPU_A,
      at('10:00:00'),
      1,
      [40, 42, 44, 46].map((t, i) => ({
        gpu_temperature_celsius: t,
        gpu_utilization_percent: 10 * (i + 1),
        gpu_power_draw_watts: 100,
        gpu_power_limit_watts: 200,
        gpu_memory_used_bytes: 1000 * (i + 1),
      })),
    );
    const b = series(GPU_B, at('11:00:00'), 1, [
      {
        gpu_temperature_celsius: 85,
        gpu_utilization_percent: 95,
        gpu_power_draw_watts: 190,
        gpu_power_limit_watts: 200,
      },
      {
        gpu_temperature_celsius: 90,
        gpu_utilization_percent: 100,
        gpu_power_draw_watts: 200,
        gpu_power_limit_watts: 200,
      },
    ]);
    const { read } = await analyze([...a, ...b]);
    const stats = await read('daily_stats');
    assert.deepEqual(
      stats.map((r) => [r.scope, r.uuid]),
      [
        ['fleet', null],
        ['gpu', 'GPU-aaaa'],
        ['gpu', 'GPU-bbbb'],
      ],
    );

    const rowA = rowOf(stats, GPU_A.uuid);
    assert.equal(rowA.sample_count, 4);
    assert.equal(rowA.host, 'node-a');
    assert.equal(rowA.gpu_index, 0);
    assert.equal(rowA.model, 'Test GPU');
    near(rowA.temperature_avg_celsius, 43); // (40 + 42 + 44 + 46) / 4
    assert.equal(rowA.temperature_min_celsius, 40);
    assert.equal(rowA.temperature_max_celsius, 46);
    // deviations -3 -1 1 3, squares 9 + 1 + 1 + 9 = 20, sample variance 20 / 3
    near(rowA.temperature_stddev_celsius, Math.sqrt(20 / 3));
    near(rowA.load_avg_percent, 25);
    assert.equal(rowA.load_max_percent, 40);
    near(rowA.power_avg_watts, 100);
    near(rowA.energy_kwh, 300 / 3.6e6); // 3 intervals * 1 s * 100 W
    near(rowA.memory_used_avg_bytes, 2500);
    assert.equal(rowA.memory_used_max_bytes, 4000);
    assert.deepEqual(
      [
        rowA.alerts_high_temperature,
        rowA.alerts_high_load,
        rowA.alerts_high_power,
        rowA.alerts_temperature_spike,
      ],
      [0, 0, 0, 0],
    );

    const rowB = rowOf(stats, GPU_B.uuid);
    // 85 and 90 >= 80; 95 and 100 >= 90; 95 % and 100 % >= 95 %; +5 is not more than 5: no spike.
    assert.deepEqual(
      [
        rowB.alerts_high_temperature,
        rowB.alerts_high_load,
        rowB.alerts_high_power,
        rowB.alerts_temperature_spike,
      ],
      [2, 2, 2, 0],
    );
    near(rowB.energy_kwh, 195 / 3.6e6); // (190 + 200) / 2 * 1 s
    assert.equal(rowB.memory_used_avg_bytes, null);
    assert.equal(rowB.temperature_stddev_celsius, Math.sqrt(12.5)); // deviations -2.5 2.5: 12.5 / 1

    const fleet = rowOf(stats);
    assert.equal(fleet.host, null);
    assert.equal(fleet.sample_count, 6);
    near(fleet.temperature_avg_celsius, 347 / 6); // 40 + 42 + 44 + 46 + 85 + 90 = 347
    assert.equal(fleet.temperature_min_celsius, 40);
    assert.equal(fleet.temperature_max_celsius, 90);
    near(fleet.load_avg_percent, 295 / 6); // 10 + 20 + 30 + 40 + 95 + 100 = 295
    near(fleet.energy_kwh, 495 / 3.6e6); // 300 J + 195 J
    near(fleet.memory_used_avg_bytes, 2500); // B's unknown memory is left out
    assert.deepEqual(
      [fleet.alerts_high_temperature, fleet.alerts_high_load, fleet.alerts_high_power],
      [2, 2, 2],
    );

    const [summary] = await read('summary');
    assert.deepEqual(summary, {
      gpus: 2,
      sample_count: 6,
      energy_kwh: fleet.energy_kwh,
      load_avg_percent: fleet.load_avg_percent,
      temperature_max_celsius: 90,
      temperature_spikes: 0,
      wasted_gpu_hours: 0,
      busiest_uuid: 'GPU-bbbb', // average load 97.5 against 25
      busiest_host: 'node-a',
      busiest_gpu_index: 1,
      busiest_load_avg_percent: 97.5,
      hottest_uuid: 'GPU-bbbb',
      hottest_host: 'node-a',
      hottest_gpu_index: 1,
      hottest_temperature_max_celsius: 90,
      hosts: 0, // no host readings: host_daily_stats has no rows
      cpu_temperature_max_celsius: null,
      cpu_temperature_spikes: null,
      alerts_high_cpu_temperature: null,
    });
  });

  it('takes the p95 of load between the closest ranks, the fleet over every sample', async () => {
    // A: load 1..10, B: load 11..20. p95 of n values sorted x0..x(n-1): rank h = 0.95 * (n - 1),
    // x(floor h) + (h - floor h) * (x(floor h + 1) - x(floor h)).
    // A: h = 0.95 * 9 = 8.55: 9 + 0.55 * (10 - 9) = 9.55. B: 19.55 likewise.
    // Fleet (1..20): h = 0.95 * 19 = 18.05: 19 + 0.05 * (20 - 19) = 19.05, not the mean of 9.55 and 19.55.
    const load = (from: number) =>
      Array.from({ length: 10 }, (_, i) => ({ gpu_utilization_percent: from + i }));
    const samples = [
      ...series(GPU_A, at('10:00:00'), 1, load(1)),
      ...series(GPU_B, at('10:00:00'), 1, load(11)),
    ];
    const { read } = await analyze(samples);
    const stats = await read('daily_stats');
    near(rowOf(stats, GPU_A.uuid).load_p95_percent, 9.55);
    near(rowOf(stats, GPU_B.uuid).load_p95_percent, 19.55);
    near(rowOf(stats).load_p95_percent, 19.05);
  });

  it('takes p50, p95 and p99 of load, temperature and power, leaving out the GPUs that read none', async () => {
    // A: load 1..10, temperature 40..49, power 100..190 W by 10; B: load 11..20 only. With n = 10 the ranks are
    // h = 0.5 * 9 = 4.5, 0.95 * 9 = 8.55, 0.99 * 9 = 8.91: x(floor h) + (h - floor h) * (x(floor h + 1) - x(floor h)).
    // A's load: 5.5, 9.55, 9.91; temperature: 44.5, 48.55, 48.91; power: 145, 185.5, 189.1.
    // Fleet load (1..20, n = 20): h = 9.5 and 18.81: 10.5 and 19.81; its temperature and power are A's only.
    const samples = [
      ...series(
        GPU_A,
        at('10:00:00'),
        1,
        Array.from({ length: 10 }, (_, i) => ({
          gpu_utilization_percent: 1 + i,
          gpu_temperature_celsius: 40 + i,
          gpu_power_draw_watts: 100 + 10 * i,
        })),
      ),
      ...series(
        GPU_B,
        at('10:00:00'),
        1,
        Array.from({ length: 10 }, (_, i) => ({
          gpu_utilization_percent: 11 + i,
          gpu_temperature_celsius: null,
          gpu_power_draw_watts: null,
        })),
      ),
    ];
    const { read } = await analyze(samples);
    const stats = await read('daily_stats');
    const a = rowOf(stats, GPU_A.uuid);
    const b = rowOf(stats, GPU_B.uuid);
    const fleet = rowOf(stats);
    near(a.load_p50_percent, 5.5);
    near(a.load_p99_percent, 9.91);
    near(a.temperature_p50_celsius, 44.5);
    near(a.temperature_p95_celsius, 48.55);
    near(a.temperature_p99_celsius, 48.91);
    near(a.power_p50_watts, 145);
    near(a.power_p95_watts, 185.5);
    near(a.power_p99_watts, 189.1);
    near(b.load_p50_percent, 15.5);
    near(b.load_p99_percent, 19.91);
    assert.equal(b.temperature_p50_celsius, null);
    assert.equal(b.power_p99_watts, null);
    near(fleet.load_p50_percent, 10.5);
    near(fleet.load_p99_percent, 19.81);
    near(fleet.temperature_p95_celsius, 48.55);
    near(fleet.power_p50_watts, 145);
  });

  it("gives each GPU's power percentiles to the bit of quantile_cont, whole or in parts of the GPUs", async () => {
    // Readings spread over hundreds of watts, all within one watt, on both sides of a whole watt, mostly one
    // value, one or two readings, some unknown; the day whole, then in parts of the GPUs (at most 2,000 samples
    // a part: 6 parts of 7 GPUs, as a large fleet's day is split).
    let state = 7;
    const random = () => {
      state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
      return state / 2 ** 31;
    };
    const two = (x: number) => Math.round(x * 100) / 100;
    const shapes: Record<string, (i: number) => number | null> = {
      spread: () => two(60 + random() * 640),
      'one watt': () => two(61 + random() * 0.99),
      'across a watt': () => two(99.9 + random() * 0.2),
      ties: (i) => (i % 10 === 0 ? two(200 + random() * 3) : 250),
      'with unknowns': (i) => (i % 3 === 0 ? null : two(100 + random() * 50)),
      one: (i) => (i === 0 ? 88.8 : null),
      two: (i) => (i < 2 ? ([300.5, 72.25][i] ?? null) : null),
    };
    const gpus: TestGpu[] = Object.keys(shapes).map((name, i) => ({
      host: 'node-p',
      gpu_index: i,
      uuid: `GPU-power-${name.replace(/ /g, '-')}`,
      model: 'Test GPU',
    }));
    const samples = gpus.flatMap((gpu, g) => {
      const shape = Object.values(shapes)[g] as (i: number) => number | null;
      return series(
        gpu,
        at('00:00:00'),
        1,
        Array.from({ length: 1500 }, (_, i) => ({ gpu_power_draw_watts: shape(i) })),
      );
    });
    const whole = await (await analyze(samples)).read('daily_stats');
    const inParts = await (await analyze(samples, { 'analytics.percentilePartSamples': 2000 })).read(
      'daily_stats',
    );

    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    try {
      await connection.run('CREATE TABLE p (uuid VARCHAR, power DOUBLE)');
      const appender = await connection.createAppender('p');
      for (const s of samples) {
        appender.appendVarchar(s.uuid);
        if (s.gpu_power_draw_watts === null) appender.appendNull();
        else appender.appendDouble(s.gpu_power_draw_watts);
        appender.endRow();
      }
      appender.closeSync();
      const reader = await connection.runAndReadAll(
        'SELECT uuid, quantile_cont(power, 0.5) AS p50, quantile_cont(power, 0.95) AS p95, quantile_cont(power, 0.99) AS p99 FROM p GROUP BY uuid',
      );
      const expected = reader.getRowObjectsJS();
      assert.equal(expected.length, gpus.length);
      for (const [how, stats] of Object.entries({ whole, 'in parts': inParts })) {
        for (const e of expected) {
          const row = rowOf(stats, String(e.uuid));
          assert.equal(row.power_p50_watts, e.p50, `${how}: ${e.uuid} p50`);
          assert.equal(row.power_p95_watts, e.p95, `${how}: ${e.uuid} p95`);
          assert.equal(row.power_p99_watts, e.p99, `${how}: ${e.uuid} p99`);
        }
      }
      assert.deepEqual(inParts, whole, 'every figure the same in parts');
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  });

  it('counts throttled time by kind with the reasons of the sample that opens each interval, not across gaps', async () => {
    // maxGapSeconds 60. A, 10 s apart unless said, throttle reasons (NVML bitmask) -> the interval it opens:
    //   t=0 0x0: measured; t=10 and t=20 0x4 (SW power cap): power; t=30 0x20 (SW thermal): thermal;
    //   t=40 0x24: power and thermal; t=50 unknown: nothing; t=60 0x8: HW slowdown; t=70 0x10: sync boost;
    //   t=80 0x1 (GPU idle, not throttling): measured; t=90 0x80 (HW power brake) -> t=190: a gap, nothing;
    //   t=190 0x40 (HW thermal): thermal; t=200 0x102 (application and display clocks): measured;
    //   t=210 0x0 opens nothing.
    // A: measured 10 intervals = 100 s; throttled (any) 0x4, 0x4, 0x20, 0x24, 0x8, 0x10, 0x40 = 70 s;
    //   power 30 s, thermal 30 s, HW slowdown 10 s, sync boost 10 s.
    // B: 0x4 every 20 s, five samples: 4 intervals, 80 s measured, throttled and power.
    const t0 = at('10:00:00');
    const reasons: [number, number | null][] = [
      [0, 0x0],
      [10, 0x4],
      [20, 0x4],
      [30, 0x20],
      [40, 0x24],
      [50, null],
      [60, 0x8],
      [70, 0x10],
      [80, 0x1],
      [90, 0x80],
      [190, 0x40],
      [200, 0x102],
      [210, 0x0],
    ];
    const samples = [
      ...reasons.map(([s, mask]) => sample(GPU_A, t0 + s * 1000, { gpu_clock_throttle_reasons: mask })),
      ...series(
        GPU_B,
        t0,
        20,
        Array.from({ length: 5 }, () => ({ gpu_clock_throttle_reasons: 0x4 })),
      ),
    ];
    const { read } = await analyze(samples);
    const stats = await read('daily_stats');
    const throttle = (row: Record<string, unknown>) => [
      row.throttle_measured_seconds,
      row.throttled_seconds,
      row.throttled_power_seconds,
      row.throttled_thermal_seconds,
      row.throttled_hw_slowdown_seconds,
      row.throttled_sync_boost_seconds,
    ];
    assert.deepEqual(throttle(rowOf(stats, GPU_A.uuid)), [100, 70, 30, 30, 10, 10]);
    assert.deepEqual(throttle(rowOf(stats, GPU_B.uuid)), [80, 80, 80, 0, 0, 0]);
    assert.deepEqual(throttle(rowOf(stats)), [180, 150, 110, 30, 10, 10]);
  });

  it('counts the alerts the live alert rules raise on the same samples', async () => {
    // Pseudo-random samples of three GPUs, interleaved, with unknown values, gaps and spikes: the SQL counts
    // must equal what AlertEvaluator (src/pipeline/alerts.ts) raises on the same stream.
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const gpus = [GPU_A, GPU_B, { ...GPU_B, gpu_index: 2, uuid: 'GPU-cccc' }];
    const samples: GpuSample[] = [];
    for (const gpu of gpus) {
      let ts = at('06:00:00');
      let temperature = 70;
      for (let i = 0; i < 150; i++) {
        ts += random() < 0.05 ? 90_000 : 1000 * (1 + Math.floor(random() * 3));
        temperature += random() < 0.1 ? 4 + Math.round(random() * 5) : Math.round(random() * 4) - 2;
        const limit = random() < 0.1 ? (random() < 0.5 ? null : 0) : 300;
        samples.push(
          sample(gpu, ts, {
            gpu_temperature_celsius: random() < 0.05 ? null : temperature,
            gpu_utilization_percent: random() < 0.05 ? null : 80 + Math.round(random() * 20),
            gpu_power_draw_watts: 270 + Math.round(random() * 300) / 10,
            gpu_power_limit_watts: limit,
          }),
        );
      }
    }
    samples.sort((x, y) => x.ts - y.ts);
    const config = testConfig();
    const live = new AlertEvaluator(config.alerts, config.analytics.maxGapSeconds * 1000).evaluate(samples);
    const liveCount = (uuid: string, rule: string) =>
      live.filter((e) => e.uuid === uuid && e.rule === rule).length;

    const { read } = await analyze(samples);
    const stats = await read('daily_stats');
    for (const gpu of gpus) {
      const row = rowOf(stats, gpu.uuid);
      assert.equal(row.alerts_high_temperature, liveCount(gpu.uuid, 'high_temperature'), gpu.uuid);
      assert.equal(row.alerts_high_load, liveCount(gpu.uuid, 'high_load'), gpu.uuid);
      assert.equal(row.alerts_high_power, liveCount(gpu.uuid, 'high_power'), gpu.uuid);
      assert.equal(row.alerts_temperature_spike, liveCount(gpu.uuid, 'temperature_spike'), gpu.uuid);
    }
    const liveSpikes = live
      .filter((e) => e.rule === 'temperature_spike')
      .map((e) => `${e.uuid} ${e.ts} ${e.value}`);
    const sqlSpikes = (await read('temperature_spikes')).map((s) => `${s.uuid} ${s.ts} ${s.rise_celsius}`);
    assert.ok(liveSpikes.length > 5, 'the data has spikes');
    assert.deepEqual(sqlSpikes.sort(), liveSpikes.sort());
  });
});

describe('correlations', () => {
  it('gives 1 for a perfect linear relation, -1 for an inverse one and a hand-computed r otherwise', async () => {
    // A: temperature 30 40 50 60, load 10 20 30 40 (load = temperature - 20): r = 1;
    //    power 400 300 200 100 (falls as temperature rises): r = -1; SM clock constant: r undefined (NULL).
    // B: temperature 1 2 3, load 1 3 2. Means 2 and 2; deviations (-1 0 1) and (-1 1 0);
    //    sum of products 1, sums of squares 2 and 2: r = 1 / sqrt(2 * 2) = 0.5.
    const a = series(
      GPU_A,
      at('10:00:00'),
      1,
      [30, 40, 50, 60].map((t) => ({
        gpu_temperature_celsius: t,
        gpu_utilization_percent: t - 20,
        gpu_power_draw_watts: 700 - 10 * t,
        gpu_sm_clock_mhz: 1980,
      })),
    );
    const b = series(GPU_B, at('10:00:00'), 1, [
      { gpu_temperature_celsius: 1, gpu_utilization_percent: 1 },
      { gpu_temperature_celsius: 2, gpu_utilization_percent: 3 },
      { gpu_temperature_celsius: 3, gpu_utilization_percent: 2 },
    ]);
    const { read } = await analyze([...a, ...b]);
    const rows = await read('correlations');
    const rowA = rowOf(rows, GPU_A.uuid);
    near(rowA.corr_temperature_load, 1);
    near(rowA.corr_temperature_power, -1);
    near(rowA.corr_load_power, -1);
    assert.equal(rowA.corr_temperature_sm_clock, null);
    assert.equal(rowA.corr_temperature_memory, null); // memory never read
    near(rowOf(rows, GPU_B.uuid).corr_temperature_load, 0.5);
    assert.equal(rowOf(rows).sample_count, 7);
    assert.equal(
      Object.keys(rowA).filter((k) => k.startsWith('corr_')).length,
      11,
      'all 10 pairs of 5 metrics, and the temperature with the host CPU temperature',
    );
    assert.equal(rowA.corr_temperature_cpu_temperature, null); // the host CPU temperature never read
  });

  it('pairs only the samples where both metrics are known, per GPU and pooled over the fleet', async () => {
    // GPU A lacks its load in two samples and its power in one: each pair has its own samples. Both GPUs
    // report the same fractional SM clock throughout: it did not vary, so its r stays undefined however the
    // samples are grouped (an average of 1410.1 over groups need not round back to exactly 1410.1).
    const temperatures = [30, 35, 50, 41, 60, 45];
    const loads = [10, null, 30, 25, null, 12];
    const powers = [100, 150, 210, null, 300, 180];
    const a = series(
      GPU_A,
      at('10:00:00'),
      1,
      temperatures.map((t, i) => ({
        gpu_temperature_celsius: t,
        gpu_utilization_percent: loads[i] ?? null,
        gpu_power_draw_watts: powers[i] ?? null,
        gpu_sm_clock_mhz: 1410.1,
      })),
    );
    const b = series(
      GPU_B,
      at('10:00:00'),
      1,
      [70, 72, 71, 75].map((t, i) => ({
        gpu_temperature_celsius: t,
        gpu_utilization_percent: [90, 95, 91, 99][i] ?? null,
        gpu_power_draw_watts: [400, 410, 405, 420][i] ?? null,
        gpu_sm_clock_mhz: 1410.1,
      })),
    );
    const { read } = await analyze([...a, ...b]);
    const rows = await read('correlations');
    const pairsOf = (samples: GpuSample[], x: keyof GpuSample, y: keyof GpuSample) =>
      samples
        .map((s) => [s[x], s[y]] as const)
        .filter((p): p is [number, number] => p.every((v) => v !== null));
    const rowA = rowOf(rows, GPU_A.uuid);
    const fleet = rowOf(rows);
    near(
      rowA.corr_temperature_load,
      pearson(pairsOf(a, 'gpu_temperature_celsius', 'gpu_utilization_percent')),
    );
    near(rowA.corr_temperature_power, pearson(pairsOf(a, 'gpu_temperature_celsius', 'gpu_power_draw_watts')));
    near(rowA.corr_load_power, pearson(pairsOf(a, 'gpu_utilization_percent', 'gpu_power_draw_watts')));
    near(
      fleet.corr_temperature_load,
      pearson(pairsOf([...a, ...b], 'gpu_temperature_celsius', 'gpu_utilization_percent')),
    );
    near(
      fleet.corr_load_power,
      pearson(pairsOf([...a, ...b], 'gpu_utilization_percent', 'gpu_power_draw_watts')),
    );
    assert.equal(rowA.corr_temperature_sm_clock, null);
    assert.equal(fleet.corr_temperature_sm_clock, null);
    assert.equal(fleet.sample_count, 10);
  });
});

/** Pearson's r of (x, y) pairs, computed directly from the deviations from the means. */
function pearson(pairs: readonly (readonly [number, number])[]): number {
  const mean = (k: 0 | 1) => pairs.reduce((sum, p) => sum + p[k], 0) / pairs.length;
  const mx = mean(0);
  const my = mean(1);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (const [x, y] of pairs) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
    syy += (y - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

describe('idle_time', () => {
  it('counts each interval with the state of the sample that opens it, not across gaps', async () => {
    // idleLoadPercent 5, idleMemoryBytes 1 GiB, maxGapSeconds 60. A, 10 s apart unless said:
    //   t=0   load 50,  2 GiB  -> [0, 10)    busy                 measured 10
    //   t=10  load 2,   2 GiB  -> [10, 20)   idle, holding memory measured 10, idle 10, holding 10
    //   t=20  load 0,   0.5GiB -> [20, 30)   idle                 measured 10, idle 10
    //   t=30  load 4.9, 3 GiB  -> [30, 40)   idle, holding        measured 10, idle 10, holding 10
    //   t=40  load 5,   3 GiB  -> [40, 140)  a gap of 100 s: nothing (and load 5 is not < 5: busy)
    //   t=140 load 1,   2 GiB  -> [140, 150) idle, holding        measured 10, idle 10, holding 10
    //   t=150 load 1,   2 GiB  -> [150, 160) idle, holding        measured 10, idle 10, holding 10
    //   t=160 load ?,   2 GiB  -> [160, 170) load unknown: not measured
    //   t=170 load 0           -> opens nothing (the day's last sample)
    // measured 60, idle 50, holding 40 s = 40 / 3600 wasted GPU-hours, idle share 50 / 60.
    const t0 = at('10:00:00');
    const point = (s: number, load: number | null, memory: number | null) =>
      sample(GPU_A, t0 + s * 1000, { gpu_utilization_percent: load, gpu_memory_used_bytes: memory });
    const a = [
      point(0, 50, 2 * GiB),
      point(10, 2, 2 * GiB),
      point(20, 0, 0.5 * GiB),
      point(30, 4.9, 3 * GiB),
      point(40, 5, 3 * GiB),
      point(140, 1, 2 * GiB),
      point(150, 1, 2 * GiB),
      point(160, null, 2 * GiB),
      point(170, 0, null),
    ];
    // B busy for 10 s: measured 10, idle 0.
    const b = series(GPU_B, t0, 10, [{ gpu_utilization_percent: 100 }, { gpu_utilization_percent: 100 }]);
    const { read } = await analyze([...a, ...b]);
    const rows = await read('idle_time');

    const rowA = rowOf(rows, GPU_A.uuid);
    assert.equal(rowA.measured_seconds, 60);
    assert.equal(rowA.idle_seconds, 50);
    assert.equal(rowA.idle_holding_memory_seconds, 40);
    near(rowA.wasted_gpu_hours, 40 / 3600);
    near(rowA.idle_share, 50 / 60);

    const rowB = rowOf(rows, GPU_B.uuid);
    assert.deepEqual([rowB.measured_seconds, rowB.idle_seconds, rowB.idle_share], [10, 0, 0]);

    // Fleet: measured 70, idle 50, holding 40.
    const fleet = rowOf(rows);
    assert.deepEqual(
      [fleet.measured_seconds, fleet.idle_seconds, fleet.idle_holding_memory_seconds],
      [70, 50, 40],
    );
    near(fleet.idle_share, 50 / 70);
    near((await read('summary'))[0]?.wasted_gpu_hours, 40 / 3600);
  });
});

describe('hourly_patterns', () => {
  it('buckets samples by UTC hour of day, per GPU and for the fleet', async () => {
    // A: 00:59:59 load 10 (hour 0); 01:00:00 load 20 and 01:30:00 load 40 (hour 1); 23:59:59 load 80 (hour 23).
    // B: 01:15:00 load 60 (hour 1). Fleet hour 1: (20 + 40 + 60) / 3 = 40 over 3 samples.
    const samples = [
      sample(GPU_A, at('00:59:59'), { gpu_utilization_percent: 10, gpu_temperature_celsius: 30 }),
      sample(GPU_A, at('01:00:00'), { gpu_utilization_percent: 20, gpu_temperature_celsius: 50 }),
      sample(GPU_A, at('01:30:00'), { gpu_utilization_percent: 40, gpu_temperature_celsius: 60 }),
      sample(GPU_A, at('23:59:59'), { gpu_utilization_percent: 80, gpu_power_draw_watts: 300 }),
      sample(GPU_B, at('01:15:00'), { gpu_utilization_percent: 60 }),
    ];
    const { read } = await analyze(samples);
    const rows = await read('hourly_patterns');
    assert.deepEqual(
      rows.map((r) => [
        r.scope,
        r.hour_utc,
        r.uuid,
        r.load_avg_percent,
        r.temperature_avg_celsius,
        r.power_avg_watts,
        r.sample_count,
      ]),
      [
        ['fleet', 0, null, 10, 30, null, 1],
        ['fleet', 1, null, 40, 55, null, 3],
        ['fleet', 23, null, 80, null, 300, 1],
        ['gpu', 0, 'GPU-aaaa', 10, 30, null, 1],
        ['gpu', 1, 'GPU-aaaa', 30, 55, null, 2],
        ['gpu', 1, 'GPU-bbbb', 60, null, null, 1],
        ['gpu', 23, 'GPU-aaaa', 80, null, 300, 1],
      ],
    );
  });
});
