import assert from 'node:assert/strict';
import { chmodSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../config/load.ts';
import type { ConfigKey } from '../config/schema.ts';
import { isGpumonError } from '../errors.ts';
import { buildFakeNvml, FAKE_NVML_SCENARIO_ENV, scenarioPath } from './nvml/fake/fake-nvml.ts';
import { selectSource } from './registry.ts';

const ROCM_TESTDATA = fileURLToPath(new URL('./rocm-smi/testdata/', import.meta.url));
const SMI_TESTDATA = fileURLToPath(new URL('./nvidia-smi/testdata/', import.meta.url));

/** A configuration in which no real GPU tool can be found, plus `flags`. */
function config(flags: Partial<Record<ConfigKey, unknown>> = {}) {
  return loadConfig({
    flags: {
      'source.nvml.library': '/nonexistent/libnvidia-ml.so.1',
      'source.nvidiaSmi.path': '/nonexistent/nvidia-smi',
      'source.rocmSmi.path': '/nonexistent/rocm-smi',
      ...flags,
    },
  });
}

/** An executable rocm-smi stand-in that prints a real capture. */
function fakeRocmSmi(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'gpumon-registry-')), 'rocm-smi');
  const fixture = join(ROCM_TESTDATA, 'rx6700xt_rocm612.json');
  writeFileSync(
    file,
    `#!/bin/sh\nFAKE_ROCM_SMI_FIXTURE='${fixture}' exec sh '${ROCM_TESTDATA}fake-rocm-smi.sh' "$@"\n`,
  );
  chmodSync(file, 0o755);
  return file;
}

describe('source selection', () => {
  it('falls back to the simulator with a notice naming the sources it tried', async () => {
    const source = await selectSource(config({ 'source.type': 'auto' }));
    assert.equal(source.name, 'sim');
    assert.match(
      source.health().notice ?? '',
      /No GPU source found \(tried .*rocm-smi.*\): showing a simulated fleet/,
    );
  });

  it('picks the first source whose tool answers', async () => {
    const source = await selectSource(
      config({ 'source.type': 'auto', 'source.rocmSmi.path': fakeRocmSmi() }),
    );
    assert.equal(source.name, 'rocm-smi');
    await source.open();
    const samples = await source.read(Date.now());
    assert.ok(samples.length >= 1);
    await source.close();
  });

  it('prefers NVML when its library loads and sees GPUs', async () => {
    process.env[FAKE_NVML_SCENARIO_ENV] = scenarioPath('h100-pair');
    try {
      const source = await selectSource(
        config({
          'source.type': 'auto',
          'source.nvml.library': buildFakeNvml(),
          'source.rocmSmi.path': fakeRocmSmi(),
        }),
      );
      assert.equal(source.name, 'nvml');
      await source.open();
      assert.equal((await source.read(Date.now())).length, 2);
      await source.close();
    } finally {
      delete process.env[FAKE_NVML_SCENARIO_ENV];
    }
  });

  it('picks nvidia-smi when NVML cannot be loaded but nvidia-smi answers', async () => {
    process.env.FAKE_SMI_CSV = join(
      SMI_TESTDATA,
      'capture__linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01.txt',
    );
    process.env.FAKE_SMI_GPUS = '2';
    try {
      const source = await selectSource(
        config({ 'source.type': 'auto', 'source.nvidiaSmi.path': join(SMI_TESTDATA, 'fake-nvidia-smi.mjs') }),
      );
      assert.equal(source.name, 'nvidia-smi');
    } finally {
      delete process.env.FAKE_SMI_CSV;
      delete process.env.FAKE_SMI_GPUS;
    }
  });

  it("gives a live source's samples the host figures read under source.hostRoot, the same in every sample", async () => {
    const hostRoot = fileURLToPath(new URL('./host/testdata/node-exporter-2x-coretemp/', import.meta.url));
    const source = await selectSource(
      config({
        'source.type': 'rocm-smi',
        'source.rocmSmi.path': fakeRocmSmi(),
        'source.hostRoot': hostRoot,
      }),
    );
    await source.open();
    const samples = await source.read(Date.now());
    await source.close();
    assert.ok(samples.length >= 1);
    for (const s of samples) {
      assert.equal(s.host_cpu_temperature_celsius, 55);
      assert.equal(s.host_memory_total_bytes, 3_742_148 * 1024);
      assert.equal(s.host_cpu_utilization_percent, null, 'the first read has no utilization yet');
    }
  });

  it("gives the nvidia-smi source's samples the host figures: CPU temperature, memory, then utilization", async () => {
    // A host of two real captures: the i3-5010U laptop's hwmon (cockpit#19068: coretemp Package id 0 at 37 C)
    // and the build VM's /proc (24 GiB; its later /proc/stat, 2 s on, saturated).
    const hostRoot = mkdtempSync(join(tmpdir(), 'gpumon-registry-host-'));
    const HOST_TESTDATA = fileURLToPath(new URL('./host/testdata/', import.meta.url));
    const vm = join(HOST_TESTDATA, 'build-vm-2vcpu-no-hwmon');
    cpSync(join(HOST_TESTDATA, 'cockpit-19068-i3-5010u-acpitz-coretemp', 'sys'), join(hostRoot, 'sys'), {
      recursive: true,
    });
    cpSync(join(vm, 'proc'), join(hostRoot, 'proc'), { recursive: true });
    const smi = join(hostRoot, 'nvidia-smi');
    const capture = join(SMI_TESTDATA, 'capture__linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01.txt');
    writeFileSync(
      smi,
      `#!/bin/sh\nexport FAKE_SMI_CSV='${capture}' FAKE_SMI_GPUS=2\nexec '${process.execPath}' '${join(SMI_TESTDATA, 'fake-nvidia-smi.mjs')}' "$@"\n`,
    );
    chmodSync(smi, 0o755);
    const source = await selectSource(
      config({ 'source.type': 'nvidia-smi', 'source.nvidiaSmi.path': smi, 'source.hostRoot': hostRoot }),
    );
    try {
      await source.open();
      const first = await source.read(Date.now());
      assert.equal(first.length, 2);
      for (const s of first) {
        assert.equal(s.uuid.startsWith('GPU-'), true);
        assert.equal(s.host_cpu_temperature_celsius, 37);
        assert.equal(s.host_memory_total_bytes, 24_683_772 * 1024);
        assert.equal(s.host_memory_used_bytes, (24_683_772 - 21_146_820) * 1024);
        assert.equal(s.host_cpu_utilization_percent, null, 'the first read has no utilization yet');
      }
      cpSync(join(vm, 'later', 'proc', 'stat'), join(hostRoot, 'proc', 'stat'));
      const second = await source.read(Date.now());
      assert.deepEqual(
        second.map((s) => s.host_cpu_utilization_percent),
        [100, 100],
        'user +374, system +28, steal +4 ticks, idle +0',
      );
    } finally {
      await source.close();
      rmSync(hostRoot, { recursive: true, force: true });
    }
  });

  it("gives a dcgm scrape's samples of this machine the host figures, and those of other nodes none", async () => {
    const capture = readFileSync(
      fileURLToPath(
        new URL('./dcgm/testdata/tesla-t4-x2-scrapes-datadog-serve-metrics.prom', import.meta.url),
      ),
    );
    const server = createServer((_, res) => res.end(capture));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const source = await selectSource(
        config({
          'source.type': 'dcgm',
          'source.dcgm.url': `http://127.0.0.1:${port}/metrics`,
          'source.host': '424773df46e0',
          'source.hostRoot': fileURLToPath(new URL('./host/testdata/atom-c3758-coretemp/', import.meta.url)),
        }),
      );
      await source.open();
      const samples = await source.read(Date.now());
      await source.close();
      const local = samples.filter((s) => s.host === '424773df46e0');
      const other = samples.filter((s) => s.host === '551bdf382151');
      assert.ok(local.length > 0 && other.length > 0);
      for (const s of local) assert.equal(s.host_cpu_temperature_celsius, 54);
      for (const s of other) assert.equal(s.host_cpu_temperature_celsius, null);
    } finally {
      server.close();
    }
  });

  it('uses the source named by source.type without probing', async () => {
    assert.equal((await selectSource(config({ 'source.type': 'dcgm' }))).name, 'dcgm');
    const sim = await selectSource(config({ 'source.type': 'sim' }));
    assert.equal(sim.name, 'sim');
  });

  it('rejects source.type values outside the list, naming the key', () => {
    assert.throws(
      () => config({ 'source.type': 'nvidia' }),
      (err) => isGpumonError(err, 'CONFIG_INVALID') && /source\.type/.test(err.message),
    );
  });
});
