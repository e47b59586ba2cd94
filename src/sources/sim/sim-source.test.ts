import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { METRIC_NAMES } from '../../metrics/catalog.ts';
import { type GpuSample, parseSample } from '../../metrics/sample.ts';
import { SampleColumns } from '../../sinks/archive/sample-columns.ts';
import { type SimGpu, buildFleet } from './fleet.ts';
import { initialState, NULL_METRICS, SIMULATED_METRICS, step } from './model.ts';
import { DEFAULT_SIM_NOTICE, SimSource } from './sim-source.ts';
import { Simulator } from './simulator.ts';

const T0 = Date.UTC(2026, 10, 25, 0, 0, 0);

/** Samples of a fleet every `intervalMs` for `count` steps, GPU by GPU. */
function run(options: { hosts: number; gpusPerHost: number; seed: number }, intervalMs: number, count: number) {
  const sim = new Simulator(options);
  const columns = new SampleColumns(count * sim.gpus.length);
  sim.writeRows(0, sim.gpus.length, T0, intervalMs, count, columns, () => {});
  const byGpu: GpuSample[][] = sim.gpus.map(() => []);
  for (let i = 0; i < columns.length; i++) byGpu[columns.gpu[i] as number]?.push(columns.sample(i, sim.gpus));
  return { gpus: sim.gpus, byGpu };
}

describe('SimSource', () => {
  test('the default fleet is 2 hosts of 4 GPUs with realistic names, and the notice says it is simulated', async () => {
    const source = new SimSource();
    await source.open();
    const samples = await source.read(T0);
    assert.equal(samples.length, 8);
    assert.deepEqual([...new Set(samples.map((s) => s.host))], ['sim-node-01', 'sim-node-02']);
    for (const s of samples) {
      assert.match(s.uuid, /^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      assert.match(s.model, /^NVIDIA /);
    }
    assert.equal(source.health().notice, DEFAULT_SIM_NOTICE);
    assert.equal(source.health().lastSuccessMs, T0);
    const custom = new SimSource({ notice: 'simulated data: no GPU source found' });
    assert.equal(custom.health().notice, 'simulated data: no GPU source found');
    await source.close();
  });

  test('the same seed and the same read times give exactly the same samples; another seed does not', async () => {
    const read = async (seed: number) => {
      const source = new SimSource({ seed, hosts: 3, gpusPerHost: 4 });
      await source.open();
      const out: GpuSample[] = [];
      for (let k = 0; k < 300; k++) out.push(...(await source.read(T0 + k * 1000)));
      return out;
    };
    const a = await read(7);
    assert.deepEqual(await read(7), a);
    assert.notDeepEqual(await read(8), a);
  });

  test('the live source and the bulk generator produce the same samples', async () => {
    const source = new SimSource({ hosts: 2, gpusPerHost: 4, seed: 3 });
    await source.open();
    const live: GpuSample[] = [];
    for (let k = 0; k < 50; k++) live.push(...(await source.read(T0 + k * 1000)));
    const { byGpu } = run({ hosts: 2, gpusPerHost: 4, seed: 3 }, 1000, 50);
    const bulk = live.map((s, i) => byGpu[i % 8]?.[Math.floor(i / 8)]);
    assert.deepEqual(bulk, live);
  });

  test('every output is a valid sample within the catalog ranges, with memory used + free = total', () => {
    const { byGpu } = run({ hosts: 4, gpusPerHost: 8, seed: 11 }, 15_000, 5760);
    for (const series of byGpu) {
      for (let k = 0; k < series.length; k += 97) {
        const s = parseSample(series[k], `sample ${k}`);
        assert.equal((s.gpu_memory_used_bytes ?? 0) + (s.gpu_memory_free_bytes ?? 0), s.gpu_memory_total_bytes);
        assert.equal(s.gpu_xid_last, 0);
        assert.equal(s.host_cpu_temperature_celsius, null);
      }
    }
  });

  test('every catalog metric is either simulated or deliberately null', () => {
    assert.deepEqual([...SIMULATED_METRICS, ...NULL_METRICS].sort(), [...METRIC_NAMES].sort());
  });
});

describe('the simulation model', () => {
  const day = run({ hosts: 2, gpusPerHost: 8, seed: 42 }, 1000, 86_400);

  test('the energy counter only grows', () => {
    for (const series of day.byGpu) {
      for (let k = 1; k < series.length; k++) {
        assert.ok(
          (series[k]?.gpu_energy_joules_total ?? 0) > (series[k - 1]?.gpu_energy_joules_total ?? 0),
          `energy falls at step ${k} of ${series[0]?.uuid}`,
        );
      }
    }
  });

  test('temperature spikes (> 5 °C in one second) happen, but rarely', () => {
    let spikes = 0;
    let samples = 0;
    for (const series of day.byGpu) {
      for (let k = 1; k < series.length; k++) {
        samples++;
        if ((series[k]?.gpu_temperature_celsius ?? 0) - (series[k - 1]?.gpu_temperature_celsius ?? 0) > 5) spikes++;
      }
    }
    assert.ok(spikes >= 3, `only ${spikes} spikes in a day of 16 GPUs`);
    assert.ok(spikes / samples < 0.001, `${spikes} spikes in ${samples} samples is not rare`);
  });

  test('GPUs idle while holding memory exist: under 5% load with GiBs allocated, all day', () => {
    const holding = day.byGpu.filter((series) =>
      series.every(
        (s) => (s.gpu_utilization_percent ?? 100) < 5 && (s.gpu_memory_used_bytes ?? 0) > 8 * 1024 ** 3,
      ),
    );
    assert.ok(holding.length >= 1);
  });

  test('load follows the day: inference GPUs are busier at 15:00 UTC than at 03:00', () => {
    const inference = day.gpus.map((g, i) => [g, i] as const).filter(([g]) => g.personality === 'inference');
    assert.ok(inference.length > 0);
    const mean = (series: GpuSample[], from: number) =>
      series.slice(from, from + 3600).reduce((a, s) => a + (s.gpu_utilization_percent ?? 0), 0) / 3600;
    for (const [, i] of inference) {
      const series = day.byGpu[i] as GpuSample[];
      assert.ok(mean(series, 15 * 3600) > mean(series, 3 * 3600) + 30);
    }
  });

  test('throttling shows: power-capped (0x4) and thermal (0x20/0x40) samples, with reduced clocks', () => {
    const all = day.byGpu.flat();
    const powerCapped = all.filter((s) => ((s.gpu_clock_throttle_reasons ?? 0) & 0x4) !== 0);
    const thermal = run({ hosts: 4, gpusPerHost: 8, seed: 42 }, 5000, 3 * 17_280)
      .byGpu.flat()
      .filter((s) => ((s.gpu_clock_throttle_reasons ?? 0) & 0x60) !== 0);
    assert.ok(powerCapped.length > 0, 'no power capping');
    assert.ok(thermal.length > 0, 'no thermal throttling in 3 days of 32 GPUs');
    assert.ok(thermal.every((s) => (s.gpu_temperature_celsius ?? 0) >= 80));
  });

  test('temperature follows power with a lag, toward ambient + k * power', () => {
    const fleet = buildFleet({ hosts: 1, gpusPerHost: 8, seed: 42 });
    const gpu = fleet.find((g) => g.personality === 'bursty') as SimGpu;
    const s = initialState(gpu, T0);
    const cold = s.temperature;
    s.phaseLeft = 3600; // a burst starts now
    const temps: number[] = [];
    for (let k = 1; k <= 600; k++) {
      step(gpu, s, T0 + k * 1000);
      temps.push(s.temperature);
    }
    const rise = (temps[599] as number) - cold;
    assert.ok(rise > 20, `rise ${rise}`);
    assert.ok((temps[9] as number) - cold < 0.35 * rise, 'temperature jumped with power');
    assert.ok((temps[3 * gpu.spec.thermalTauSeconds] as number) - cold > 0.8 * rise, 'temperature too slow');
  });

  test('a sample depends on the state before it: steps 1 s apart differ from one 2 s step', () => {
    const fleet = buildFleet({ hosts: 1, gpusPerHost: 1, seed: 5 });
    const gpu = fleet[0] as SimGpu;
    const a = initialState(gpu, T0);
    step(gpu, a, T0 + 1000);
    step(gpu, a, T0 + 2000);
    const b = initialState(gpu, T0);
    step(gpu, b, T0 + 2000);
    assert.notEqual(a.energyJoules, b.energyJoules);
  });
});
