import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../log.ts';
import type { GpuSample } from '../../metrics/sample.ts';
import { SimSource } from '../sim/sim-source.ts';
import type { GpuDevice, Source } from '../source.ts';
import { HostMetricsSource } from './host-metrics-source.ts';
import { HostReader, type HostReading } from './host-reader.ts';

const TESTDATA = join(dirname(fileURLToPath(import.meta.url)), 'testdata');
const T0 = Date.UTC(2026, 11, 1, 12);

/** GPU samples as a source that knows nothing of the host reports them: host figures null. */
async function gpuSamples(hosts = 1): Promise<GpuSample[]> {
  const sim = new SimSource({ hosts, gpusPerHost: 4, seed: 1 });
  await sim.open();
  const samples = await sim.read(T0);
  for (const s of samples) {
    s.host_cpu_temperature_celsius = null;
    s.host_cpu_utilization_percent = null;
    s.host_memory_used_bytes = null;
    s.host_memory_total_bytes = null;
  }
  return samples;
}

function sourceOf(samples: () => Promise<GpuSample[]>, extra: Partial<Source> = {}): Source {
  return {
    name: 'nvml',
    open: async () => {},
    read: samples,
    health: () => ({
      source: 'nvml',
      lastSuccessMs: null,
      lastReadDurationMs: null,
      errors: { timeout: 1 },
      notice: null,
    }),
    close: async () => {},
    ...extra,
  };
}

/** A reader on a captured tree that counts its reads. */
class CountingReader extends HostReader {
  reads = 0;
  override async read(): Promise<HostReading> {
    this.reads++;
    return super.read();
  }
}

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const logger = { lines, warn: (_: unknown, msg: string) => lines.push(msg) };
  return logger as unknown as Logger & { lines: string[] };
}

describe('HostMetricsSource', () => {
  test('reads the host once per read, and every sample of the host carries the same four figures', async () => {
    const reader = new CountingReader({ root: join(TESTDATA, 'node-exporter-2x-coretemp') });
    const source = new HostMetricsSource(
      sourceOf(() => gpuSamples()),
      { reader },
    );
    const samples = await source.read(T0);
    assert.equal(samples.length, 4);
    assert.equal(reader.reads, 1);
    for (const s of samples) {
      assert.equal(s.host_cpu_temperature_celsius, 55);
      assert.equal(s.host_memory_total_bytes, 3_742_148 * 1024);
      assert.equal(s.host_memory_used_bytes, (3_742_148 - 225_472 - 22_040 - 930_888 - 44_772) * 1024);
      assert.equal(s.host_cpu_utilization_percent, null);
    }
    assert.deepEqual(
      source.lastReading()?.cpuPackages.map((p) => `${p.device} ${p.label} ${p.celsius}`),
      ['hwmon0 Physical id 0 55', 'hwmon1 Physical id 0 55'],
    );
  });

  test("keeps what the source itself read, and fills only this machine's samples where told which they are", async () => {
    const samples = async () => {
      const out = await gpuSamples(2);
      (out[0] as GpuSample).host_cpu_temperature_celsius = 71;
      return out;
    };
    const local = (await gpuSamples(2))[0]?.host as string;
    const source = new HostMetricsSource(sourceOf(samples), {
      root: join(TESTDATA, 'atom-c3758-coretemp'),
      isLocal: (s) => s.host === local,
    });
    const read = await source.read(T0);
    assert.equal(read[0]?.host_cpu_temperature_celsius, 71);
    for (const s of read.slice(1)) assert.equal(s.host_cpu_temperature_celsius, s.host === local ? 54 : null);
    assert.ok(read.some((s) => s.host !== local));
  });

  test('a host that cannot be read never fails the read: nulls, one warning per reason', async () => {
    const logger = recordingLogger();
    const source = new HostMetricsSource(
      sourceOf(() => gpuSamples()),
      {
        root: join(TESTDATA, 'epyc-9224-k10temp'), // no /proc in this capture
        logger,
      },
    );
    for (let k = 0; k < 3; k++) {
      const samples = await source.read(T0 + k * 1000);
      assert.equal(samples[0]?.host_cpu_temperature_celsius, 34.8);
      assert.equal(samples[0]?.host_memory_used_bytes, null);
    }
    assert.equal(logger.lines.filter((l) => /host_memory_used_bytes: .*meminfo: missing/.test(l)).length, 1);
    assert.equal(
      logger.lines.filter((l) => /host_cpu_utilization_percent: .*stat: missing/.test(l)).length,
      1,
    );
    const errors = source.health().errors;
    assert.equal(errors['host:host_memory_used_bytes'], undefined, 'a file the machine lacks is no failure');
    assert.equal(errors.timeout, 1, "the source's own counts stay");
  });

  test('a figure that fails to read (garbage, not absence) is counted in health as host:<metric>, every read', async () => {
    const root = await mkdtemp(join(tmpdir(), 'gpumon-host-source-'));
    try {
      await mkdir(join(root, 'proc'));
      await writeFile(join(root, 'proc/meminfo'), 'MemFree: 12 kB\n');
      const source = new HostMetricsSource(
        sourceOf(() => gpuSamples()),
        { root },
      );
      for (let k = 0; k < 3; k++) await source.read(T0 + k * 1000);
      const errors = source.health().errors;
      assert.equal(errors['host:host_memory_used_bytes'], 3);
      assert.equal(errors['host:host_memory_total_bytes'], 3);
      assert.equal(errors['host:host_cpu_temperature_celsius'], undefined, 'no hwmon tree: absent');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  test("the first read's missing utilization is no failure and no warning", async () => {
    const logger = recordingLogger();
    const source = new HostMetricsSource(
      sourceOf(() => gpuSamples()),
      {
        root: join(TESTDATA, 'build-vm-2vcpu-no-hwmon'),
        logger,
      },
    );
    await source.read(T0);
    assert.equal(source.health().errors['host:host_cpu_utilization_percent'], undefined);
    assert.ok(!logger.lines.some((l) => l.includes('utilization')));
    assert.ok(logger.lines.some((l) => /host_cpu_temperature_celsius: .*hwmon: missing/.test(l)));
  });

  test("passes the source's name, lifecycle and optional device listing through, and adds none it lacks", async () => {
    const calls: string[] = [];
    const device: GpuDevice = {
      uuid: 'GPU-1',
      index: 0,
      model: 'NVIDIA H100 80GB HBM3',
      pciBusId: null,
      serial: null,
      vbiosVersion: null,
      driverVersion: null,
      parentUuid: null,
      migProfile: null,
    };
    const inner = sourceOf(() => gpuSamples(), {
      open: async () => {
        calls.push('open');
      },
      close: async () => {
        calls.push('close');
      },
      devices: () => [device],
    });
    const source = new HostMetricsSource(inner, { root: join(TESTDATA, 'atom-c3758-coretemp') });
    await source.open();
    await source.close();
    assert.deepEqual(calls, ['open', 'close']);
    assert.equal(source.name, 'nvml');
    assert.deepEqual(source.devices?.(), [device]);
    assert.equal(source.processes, undefined);
  });
});
