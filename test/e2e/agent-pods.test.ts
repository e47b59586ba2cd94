/**
 * `gpumon agent` on a Kubernetes node: the samples it serves carry the pod holding their GPU, asked of a
 * kubelet (the test's gRPC server of the pod-resources .proto on a unix socket) through
 * kubernetes.podResourcesSocket; without the socket it samples on, with one warning and no pods.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.ts';
import { gpuPod, TestKubelet } from '../../src/sources/kubernetes/testing.ts';
import { SimSource } from '../../src/sources/sim/sim-source.ts';
import { freePort, interrupt, pollHttp, startGpumon, tempDir } from './helpers.ts';

// A port nothing listens on: Kafka is unreachable there, the agent spools.
const NO_KAFKA = '127.0.0.1:1';

/** The UUIDs of the simulated GPUs the agent samples (the configuration's defaults). */
async function simulatedUuids(): Promise<string[]> {
  const { hosts, gpusPerHost, seed } = loadConfig().source.sim;
  const sim = new SimSource({ hosts, gpusPerHost, seed });
  await sim.open();
  const uuids = (await sim.read(Date.now())).map((s) => s.uuid);
  await sim.close();
  return uuids;
}

function startAgent(port: number, socket: string) {
  return startGpumon(
    [
      'agent',
      '--source',
      'sim',
      '--brokers',
      NO_KAFKA,
      '--spool',
      tempDir('pods-spool'),
      '--health-port',
      String(port),
    ],
    {
      GPUMON_LOG_LEVEL: 'warn',
      GPUMON_SOURCE_INTERVAL_MS: '200',
      GPUMON_KUBERNETES_POD_RESOURCES_SOCKET: socket,
    },
  );
}

describe('gpumon agent on a Kubernetes node', () => {
  let kubelet: TestKubelet;
  before(async () => {
    kubelet = await new TestKubelet().start();
  });
  after(() => kubelet.stop());

  it('serves samples carrying the namespace, pod and container of the pod holding each GPU', async () => {
    const [first, second] = await simulatedUuids();
    kubelet.behaviour = {
      kind: 'pods',
      pods: [
        gpuPod('team-a', 'trainer-0', 'pytorch', [first as string]),
        gpuPod('team-b', 'notebook-1', 'jupyter', [second as string]),
      ],
    };
    const port = await freePort();
    const agent = startAgent(port, kubelet.socketPath);
    try {
      const metrics = await pollHttp(
        `http://127.0.0.1:${port}/metrics`,
        (s, body) => s === 200 && /pod="trainer-0"/.test(body),
        60_000,
      );
      const temperature = (uuid: string) =>
        metrics.body
          .split('\n')
          .find((l) => l.startsWith('DCGM_FI_DEV_GPU_TEMP{') && l.includes(`UUID="${uuid}"`)) ?? '';
      assert.match(temperature(first as string), /namespace="team-a"/);
      assert.match(temperature(first as string), /container="pytorch"/);
      assert.match(temperature(second as string), /pod="notebook-1"/);
      assert.ok(
        metrics.body.split('\n').some((l) => l.startsWith('DCGM_FI_DEV_GPU_TEMP{') && !l.includes('pod=')),
        'a free GPU carries no pod',
      );
      assert.match(metrics.body, /^gpumon_agent_pod_resources_up 1$/m);
      const ready = JSON.parse(
        (await pollHttp(`http://127.0.0.1:${port}/readyz`, (s) => s === 200, 10_000)).body,
      ) as {
        checks: { name: string; ok: boolean; detail: string }[];
      };
      assert.match(
        ready.checks.find((c) => c.name === 'kubernetes')?.detail ?? '',
        /^2 GPU devices held by pods/,
      );
    } finally {
      const { code } = await interrupt(agent);
      assert.equal(code, 0, agent.stderr());
    }
  });

  it('samples on without the socket: ready, no pods, and one warning', async () => {
    const port = await freePort();
    const agent = startAgent(port, join(kubelet.dir, 'absent.sock'));
    try {
      await pollHttp(
        `http://127.0.0.1:${port}/metrics`,
        (s, body) => s === 200 && /^gpumon_agent_samples_spooled_total [1-9]\d*$/m.test(body),
        60_000,
      );
      await new Promise((r) => setTimeout(r, 1000));
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      assert.match(metrics, /^gpumon_agent_pod_resources_up 0$/m);
      assert.doesNotMatch(metrics, /pod="/);
      assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200);
    } finally {
      const { code } = await interrupt(agent);
      assert.equal(code, 0, agent.stderr());
    }
    const warnings = agent
      .stderr()
      .split('\n')
      .filter((l) => l.includes('pod-resources unavailable'));
    assert.equal(warnings.length, 1, agent.stderr());
    assert.match(warnings[0] ?? '', /POD_RESOURCES_FAILED/);
  });
});
