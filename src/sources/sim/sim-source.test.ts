import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { METRIC_NAMES, type MetricName } from '../../metrics/catalog.ts';
import { type GpuSample, parseSample } from '../../metrics/sample.ts';
import { SampleColumns } from '../../metrics/sample-columns.ts';
import { buildFleet, type SimGpu } from './fleet.ts';
import { buildHosts, initialHostState, type SimHost, stepHost } from './host.ts';
import { initialState, NULL_METRICS, SIMULATED_METRICS, step } from './model.ts';
import { DEFAULT_SIM_NOTICE, SimSource } from './sim-source.ts';
import { Simulator } from './simulator.ts';

const T0 = Date.UTC(2026, 10, 25, 0, 0, 0);

/** Samples of a fleet every `intervalMs` for `count` steps, GPU by GPU. */
function run(
  options: { hosts: number; gpusPerHost: number; seed: number },
  intervalMs: number,
  count: number,
) {
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
    const bulk = live.map((_, i) => byGpu[i % 8]?.[Math.floor(i / 8)]);
    assert.deepEqual(bulk, live);
  });

  test('every output is a valid sample within the catalog ranges, with memory used + free = total', () => {
    const { byGpu } = run({ hosts: 4, gpusPerHost: 8, seed: 11 }, 15_000, 5760);
    for (const series of byGpu) {
      for (let k = 0; k < series.length; k += 97) {
        const s = parseSample(series[k], `sample ${k}`);
        assert.equal(
          (s.gpu_memory_used_bytes ?? 0) + (s.gpu_memory_free_bytes ?? 0),
          s.gpu_memory_total_bytes,
        );
        assert.equal(s.gpu_xid_last, 0);
        assert.ok((s.host_memory_used_bytes ?? 0) < (s.host_memory_total_bytes ?? 0));
      }
    }
  });

  test('every catalog metric is either simulated or deliberately null', () => {
    assert.deepEqual([...SIMULATED_METRICS, ...NULL_METRICS].sort(), [...METRIC_NAMES].sort());
  });
});

describe('the simulation model', () => {
  /** A day at 1 s of 16 GPUs, as columns (objects would be 1.4 M samples). */
  const sim = new Simulator({ hosts: 2, gpusPerHost: 8, seed: 42 });
  const steps = 86_400;
  const day = new SampleColumns(sim.gpus.length * steps);
  sim.writeRows(0, sim.gpus.length, T0, 1000, steps, day, () => {});
  const metric = (name: MetricName) => day.metrics[METRIC_NAMES.indexOf(name)] as Float64Array;
  /** Values of one metric of GPU `g`, in time order (rows are GPU by GPU). */
  const series = (name: MetricName, g: number) => metric(name).subarray(g * steps, (g + 1) * steps);
  const gpuIndexes = sim.gpus.map((_, g) => g);

  test('the energy counter only grows', () => {
    for (const g of gpuIndexes) {
      const energy = series('gpu_energy_joules_total', g);
      for (let k = 1; k < steps; k++) {
        assert.ok((energy[k] as number) > (energy[k - 1] as number), `energy falls at step ${k} of GPU ${g}`);
      }
    }
  });

  test('temperature spikes (> 5 °C in one second) happen, but rarely', () => {
    let spikes = 0;
    for (const g of gpuIndexes) {
      const temperature = series('gpu_temperature_celsius', g);
      for (let k = 1; k < steps; k++)
        if ((temperature[k] as number) - (temperature[k - 1] as number) > 5) spikes++;
    }
    assert.ok(spikes >= 3, `only ${spikes} spikes in a day of 16 GPUs`);
    assert.ok(spikes / day.length < 0.001, `${spikes} spikes in ${day.length} samples is not rare`);
  });

  test('GPUs idle while holding memory exist: under 5% load with GiBs allocated, all day', () => {
    const holding = gpuIndexes.filter((g) => {
      const util = series('gpu_utilization_percent', g);
      const used = series('gpu_memory_used_bytes', g);
      return util.every((u) => u < 5) && used.every((b) => b > 8 * 1024 ** 3);
    });
    assert.ok(holding.length >= 1);
  });

  test('load follows the day: inference GPUs are busier at 15:00 UTC than at 03:00', () => {
    const inference = gpuIndexes.filter((g) => sim.gpus[g]?.personality === 'inference');
    assert.ok(inference.length > 0);
    for (const g of inference) {
      const util = series('gpu_utilization_percent', g);
      const mean = (hour: number) =>
        util.subarray(hour * 3600, (hour + 1) * 3600).reduce((a, b) => a + b) / 3600;
      assert.ok(mean(15) > mean(3) + 30, `GPU ${g}: ${mean(15)} at 15:00, ${mean(3)} at 03:00`);
    }
  });

  test('throttling shows: power-capped (0x4) and thermal (0x20/0x40) samples, hot and with reduced clocks', () => {
    const reasons = metric('gpu_clock_throttle_reasons');
    assert.ok(
      reasons.some((r) => (r & 0x4) !== 0),
      'no power capping',
    );
    const longer = new Simulator({ hosts: 4, gpusPerHost: 8, seed: 42 });
    const columns = new SampleColumns(2048);
    const reasonsAt = METRIC_NAMES.indexOf('gpu_clock_throttle_reasons');
    const tempAt = METRIC_NAMES.indexOf('gpu_temperature_celsius');
    let thermal = 0;
    let cool = 0;
    longer.writeRows(0, longer.gpus.length, T0, 5000, 3 * 17_280, columns, (c) => {
      for (let i = 0; i < c.length; i++) {
        if (((c.metrics[reasonsAt]?.[i] ?? 0) & 0x60) !== 0) {
          thermal++;
          if ((c.metrics[tempAt]?.[i] ?? 0) < 80) cool++;
        }
      }
      c.length = 0;
    });
    assert.ok(thermal > 0, 'no thermal throttling in 3 days of 32 GPUs');
    assert.equal(cool, 0);
  });

  test('temperature follows power with a lag, toward ambient + k * power', () => {
    const fleet = buildFleet({ hosts: 1, gpusPerHost: 8, seed: 42 });
    const gpu = fleet.find((g) => g.personality === 'bursty') as SimGpu;
    const s = initialState(gpu, T0);
    const cold = s.temperature;
    s.work.phaseLeft = 3600; // a burst starts now
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

describe('the simulated hosts', () => {
  const HOST_METRICS = [
    'host_cpu_temperature_celsius',
    'host_cpu_utilization_percent',
    'host_memory_used_bytes',
    'host_memory_total_bytes',
  ] as const;

  test('all GPUs of a host carry the same host figures at one instant; other hosts their own', async () => {
    const source = new SimSource({ hosts: 3, gpusPerHost: 4, seed: 9 });
    await source.open();
    for (let k = 0; k < 20; k++) {
      const samples = await source.read(T0 + k * 1000);
      const byHost = new Map<string, string>();
      for (const s of samples) {
        const figures = JSON.stringify(HOST_METRICS.map((m) => s[m]));
        assert.equal(byHost.get(s.host) ?? figures, figures, `${s.host} at step ${k}`);
        byHost.set(s.host, figures);
      }
      assert.equal(new Set(byHost.values()).size, 3);
    }
  });

  test('the history written in groups that split a host equals the history written at once', () => {
    const options = { hosts: 2, gpusPerHost: 4, seed: 5 };
    const whole = run(options, 5000, 200).byGpu;
    const sim = new Simulator(options);
    const parts: GpuSample[][] = sim.gpus.map(() => []);
    for (const [from, to] of [
      [0, 3],
      [3, 6],
      [6, 8],
    ] as const) {
      const columns = new SampleColumns(200 * (to - from));
      sim.writeRows(from, to, T0, 5000, 200, columns, () => {});
      for (let i = 0; i < columns.length; i++) {
        parts[from + (columns.gpu[i] as number)]?.push(columns.sample(i, sim.gpus.slice(from, to)));
      }
    }
    assert.deepEqual(parts, whole);
  });

  test('CPU load and temperature follow the GPUs: a bursty GPU host is hotter and busier during its bursts', () => {
    // One GPU per host: host 4 of seed 42 has the bursty GPU (the pattern repeats every 8 GPUs).
    const { gpus, byGpu } = run({ hosts: 8, gpusPerHost: 1, seed: 42 }, 1000, 86_400);
    const g = gpus.findIndex((gpu) => gpu.personality === 'bursty');
    const series = byGpu[g] as GpuSample[];
    const during = series.filter((s) => (s.gpu_utilization_percent ?? 0) > 80);
    const outside = series.filter((s) => (s.gpu_utilization_percent ?? 0) < 5);
    assert.ok(
      during.length > 600 && outside.length > 600,
      `${during.length} busy, ${outside.length} idle samples`,
    );
    const mean = (xs: GpuSample[], m: (typeof HOST_METRICS)[number]) =>
      xs.reduce((a, s) => a + (s[m] ?? 0), 0) / xs.length;
    const hotter =
      mean(during, 'host_cpu_temperature_celsius') - mean(outside, 'host_cpu_temperature_celsius');
    const busier =
      mean(during, 'host_cpu_utilization_percent') - mean(outside, 'host_cpu_utilization_percent');
    assert.ok(hotter > 8, `CPU ${hotter.toFixed(1)} °C warmer during bursts`);
    assert.ok(busier > 15, `CPU ${busier.toFixed(1)} points busier during bursts`);
    const heldBytes = (xs: GpuSample[]) => mean(xs, 'host_memory_used_bytes');
    assert.ok(heldBytes(during) > heldBytes(outside), 'host memory follows the memory the GPU job holds');
  });

  test('realistic ranges: CPU 30-95 °C, utilization 0-100 % with rare hot bursts, memory total fixed at 0.5-2 TiB and used varying', () => {
    const { byGpu } = run({ hosts: 6, gpusPerHost: 2, seed: 3 }, 10_000, 8640);
    let hot = 0;
    let samples = 0;
    for (const series of byGpu) {
      const totals = new Set(series.map((s) => s.host_memory_total_bytes));
      assert.equal(totals.size, 1);
      const total = [...totals][0] as number;
      assert.ok(total >= 500 * 1024 ** 3 && total <= 2 * 1024 ** 4, `total ${total}`);
      assert.ok(new Set(series.map((s) => s.host_memory_used_bytes)).size > 100, 'used memory varies');
      for (const s of series) {
        const t = s.host_cpu_temperature_celsius as number;
        const u = s.host_cpu_utilization_percent as number;
        assert.ok(t >= 30 && t <= 95, `CPU temperature ${t}`);
        assert.ok(u > 0 && u <= 100, `CPU utilization ${u}`);
        if (t >= 80) hot++;
        samples++;
      }
    }
    assert.ok(hot / samples < 0.05, `${hot} of ${samples} samples at 80 °C or more`);
  });
});

describe('the host model', () => {
  test('CPU temperature follows the inlet air: the same host 10 °C warmer inlet runs about 10 °C warmer', () => {
    const gpus = buildFleet({ hosts: 1, gpusPerHost: 4, seed: 21 });
    const [host] = buildHosts(gpus, 4, 21) as [SimHost];
    const warm: SimHost = { ...host, inletCelsius: host.inletCelsius + 10 };
    const a = initialHostState(host, gpus, T0);
    const b = initialHostState(warm, gpus, T0);
    for (let k = 1; k <= 600; k++) {
      stepHost(host, gpus, a, T0 + k * 1000);
      stepHost(warm, gpus, b, T0 + k * 1000);
      const gap = b.reportedTemperature - a.reportedTemperature;
      assert.ok(gap >= 9 && gap <= 11, `step ${k}: ${gap} °C warmer`);
      assert.equal(b.reportedUtil, a.reportedUtil, 'the load does not depend on the air');
    }
  });
});
