/**
 * `gpumon agent` on a GPU machine serves its host's figures beside every GPU's: CPU temperature and memory from
 * the tree under source.hostRoot (a captured dual-socket machine), CPU utilization from this machine's
 * /proc/stat once two reads have passed. NVML is the fake libnvidia-ml.so.1 with two H100s.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  buildFakeNvml,
  FAKE_NVML_SCENARIO_ENV,
  scenarioPath,
} from '../../src/sources/nvml/fake/fake-nvml.ts';
import { freePort, interrupt, pollHttp, startGpumon, tempDir } from './helpers.ts';

const NO_KAFKA = '127.0.0.1:1';
const CAPTURED = fileURLToPath(
  new URL('../../src/sources/host/testdata/node-exporter-2x-coretemp/', import.meta.url),
);

function startAgent(port: number, hostRoot: string) {
  return startGpumon(
    [
      'agent',
      '--source',
      'nvml',
      '--brokers',
      NO_KAFKA,
      '--spool',
      tempDir('host-spool'),
      '--health-port',
      String(port),
    ],
    {
      GPUMON_LOG_LEVEL: 'warn',
      GPUMON_SOURCE_INTERVAL_MS: '200',
      GPUMON_SOURCE_NVML_LIBRARY: buildFakeNvml(),
      GPUMON_SOURCE_HOST_ROOT: hostRoot,
      GPUMON_KUBERNETES_POD_RESOURCES_SOCKET: 'off',
      [FAKE_NVML_SCENARIO_ENV]: scenarioPath('h100-pair'),
    },
  );
}

/** The values of one gpumon metric on /metrics, one per GPU line. */
function values(body: string, metric: string): number[] {
  return body
    .split('\n')
    .filter((l) => l.startsWith(`${metric}{`))
    .map((l) => Number(l.slice(l.lastIndexOf(' ') + 1)));
}

describe('gpumon agent with the host metrics', () => {
  it("serves the host's CPU temperature and memory, the same on every GPU, read under source.hostRoot", async () => {
    const port = await freePort();
    const agent = startAgent(port, CAPTURED);
    try {
      const { body } = await pollHttp(
        `http://127.0.0.1:${port}/metrics`,
        (s, text) => s === 200 && values(text, 'host_cpu_temperature_celsius').length === 2,
        60_000,
      );
      assert.deepEqual(values(body, 'host_cpu_temperature_celsius'), [55, 55]);
      assert.deepEqual(values(body, 'host_memory_total_bytes'), [3_742_148 * 1024, 3_742_148 * 1024]);
      assert.deepEqual(values(body, 'host_memory_used_bytes'), [2_518_976 * 1024, 2_518_976 * 1024]);
    } finally {
      await interrupt(agent);
    }
  });

  it("serves this machine's CPU utilization once two reads have passed", async () => {
    const port = await freePort();
    const agent = startAgent(port, '/');
    try {
      const { body } = await pollHttp(
        `http://127.0.0.1:${port}/metrics`,
        (s, text) => s === 200 && values(text, 'host_cpu_utilization_percent').length === 2,
        60_000,
      );
      const [a, b] = values(body, 'host_cpu_utilization_percent');
      assert.equal(a, b, 'one host reading per tick, in every GPU sample');
      assert.ok((a as number) >= 0 && (a as number) <= 100, `utilization ${a}`);
      assert.ok((values(body, 'host_memory_total_bytes')[0] ?? 0) > 0);
    } finally {
      await interrupt(agent);
    }
  });
});
