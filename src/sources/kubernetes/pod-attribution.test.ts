import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { Agent } from '../../agent/agent.ts';
import { Spool } from '../../agent/spool.ts';
import type { Publisher } from '../../agent/spooling-publisher.ts';
import { loadConfig } from '../../config/load.ts';
import { isGpumonError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { GpuSample } from '../../metrics/sample.ts';
import { capturingLogger } from '../../testing/logger.ts';
import { SimSource } from '../sim/sim-source.ts';
import { PodAttributingSource, PodAttribution, withPodAttribution } from './pod-attribution.ts';
import { gpuPod, TestKubelet } from './testing.ts';

const SIM = { hosts: 1, gpusPerHost: 4, seed: 11 };
const WARN = 40;

/** The UUIDs of the simulated GPUs, by index. */
async function simUuids(): Promise<string[]> {
  const sim = new SimSource(SIM);
  await sim.open();
  const samples = await sim.read(Date.now());
  await sim.close();
  return samples.map((s) => s.uuid);
}

/** A Kafka stand-in keeping what it was sent. */
class KeptKafka implements Publisher {
  readonly sent: GpuSample[] = [];
  async publish(samples: readonly GpuSample[]): Promise<void> {
    this.sent.push(...samples);
  }
  async close(): Promise<void> {}
}

const pods = (s: readonly GpuSample[]) => s.map((x) => [x.gpu_index, x.namespace, x.pod, x.container]);

describe('pod attribution: samples carry the pod holding their GPU', () => {
  let kubelet: TestKubelet;
  let uuids: string[];
  const opened: { close(): Promise<void> }[] = [];

  beforeEach(async () => {
    kubelet = await new TestKubelet().start();
    uuids = await simUuids();
  });
  afterEach(async () => {
    for (const o of opened.splice(0)) await o.close();
    kubelet.stop();
  });

  function attributed(socketPath: string, logger?: Logger, timeoutMs = 500, refreshMs = 60_000) {
    const attribution = new PodAttribution({ socketPath, refreshMs, timeoutMs, logger });
    const source = new PodAttributingSource(new SimSource(SIM), attribution);
    opened.push(source);
    return source;
  }

  it("gives the agent's samples the namespace, pod and container of the pod holding the GPU, null when free", async () => {
    kubelet.behaviour = {
      kind: 'pods',
      pods: [
        gpuPod('team-a', 'trainer-0', 'pytorch', [uuids[0] as string, uuids[1] as string]),
        gpuPod('team-b', 'notebook-3', 'jupyter', [`${uuids[3]}::2`], 'nvidia.com/gpu.shared'),
      ],
    };
    const source = attributed(kubelet.socketPath);
    await source.open();
    const kafka = new KeptKafka();
    const agent = new Agent({
      source,
      target: kafka,
      spool: await Spool.open({ dir: mkdtempSync(join(tmpdir(), 'gpumon-pods-spool-')), maxBytes: 1 << 20 }),
      intervalMs: 1000,
      statsIntervalMs: 0,
    });
    opened.pop(); // the agent closes its source
    await agent.tick(Date.now());
    assert.ok(await agent.flush(2000));
    assert.deepEqual(pods(kafka.sent), [
      [0, 'team-a', 'trainer-0', 'pytorch'],
      [1, 'team-a', 'trainer-0', 'pytorch'],
      [2, null, null, null],
      [3, 'team-b', 'notebook-3', 'jupyter'],
    ]);
    const health = agent.healthReporter();
    const check = health.readiness().find((c) => c.name === 'kubernetes');
    assert.equal(check?.ok, true);
    assert.match(check?.detail ?? '', /3 GPU devices held by pods/);
    assert.match(health.metrics(), /^gpumon_agent_pod_resources_up 1$/m);
    assert.match(health.metrics(), /^gpumon_agent_pod_resources_failures_total 0$/m);
    await agent.stop(0);
  });

  it('asks the kubelet on its own interval, not on every read, and follows pods as they come and go', async () => {
    kubelet.behaviour = { kind: 'pods', pods: [gpuPod('team-a', 'job-1', 'main', [uuids[2] as string])] };
    const source = attributed(kubelet.socketPath);
    await source.open();
    for (let i = 0; i < 5; i++) await source.read(Date.now());
    assert.equal(kubelet.lists, 1, 'one List at the start, none per read');
    assert.equal((await source.read(Date.now()))[2]?.pod, 'job-1');
    kubelet.behaviour = { kind: 'pods', pods: [gpuPod('team-c', 'job-2', 'main', [uuids[2] as string])] };
    await source.attribution.refresh();
    assert.equal(kubelet.lists, 2);
    assert.equal((await source.read(Date.now()))[2]?.namespace, 'team-c');
  });

  it('refreshes every refreshMs by itself', async () => {
    kubelet.behaviour = { kind: 'pods', pods: [] };
    const source = attributed(kubelet.socketPath, undefined, 500, 1000);
    await source.open();
    await new Promise((r) => setTimeout(r, 2300));
    assert.ok(kubelet.lists >= 3 && kubelet.lists <= 4, `lists: ${kubelet.lists}`);
  });

  it('keeps the pod a source already gave (dcgm-exporter labels)', async () => {
    kubelet.behaviour = {
      kind: 'pods',
      pods: [gpuPod('team-a', 'trainer-0', 'pytorch', [uuids[0] as string])],
    };
    const attribution = new PodAttribution({
      socketPath: kubelet.socketPath,
      refreshMs: 60_000,
      timeoutMs: 500,
    });
    opened.push(attribution);
    await attribution.start();
    const sim = new SimSource(SIM);
    await sim.open();
    const [first] = await sim.read(Date.now());
    await sim.close();
    assert.ok(first);
    const labelled = { ...first, namespace: 'from-dcgm', pod: 'p', container: 'c' };
    assert.deepEqual(attribution.attribute([labelled]), [labelled]);
    assert.equal(attribution.attribute([first])[0]?.pod, 'trainer-0');
  });

  it('matches devices listed by index (deviceIDStrategy: index) to whole GPUs, never to the MIG devices of that index', async () => {
    kubelet.behaviour = { kind: 'pods', pods: [gpuPod('team-a', 'trainer-0', 'pytorch', ['2'])] };
    const attribution = new PodAttribution({
      socketPath: kubelet.socketPath,
      refreshMs: 60_000,
      timeoutMs: 500,
    });
    opened.push(attribution);
    await attribution.start();
    const sim = new SimSource(SIM);
    await sim.open();
    const samples = await sim.read(Date.now());
    await sim.close();
    const gpu2 = samples[2];
    assert.ok(gpu2);
    const mig = { ...gpu2, uuid: 'MIG-5c3e1f0a-7b2d-5e4f-9a1b-2c3d4e5f6a7b' };
    assert.deepEqual(
      attribution.attribute([gpu2, mig]).map((s) => s.pod),
      ['trainer-0', null],
    );
  });

  it('without a socket: samples carry no pod, one warning however many reads, and sampling goes on', async () => {
    const { logger, lines } = capturingLogger();
    const source = attributed(join(kubelet.dir, 'absent.sock'), logger);
    await source.open();
    for (let i = 0; i < 4; i++) {
      const samples = await source.read(Date.now());
      assert.equal(samples.length, 4);
      assert.ok(samples.every((s) => s.namespace === null && s.pod === null && s.container === null));
      await source.attribution.refresh();
    }
    const warnings = lines.filter((l) => l.level === WARN);
    assert.equal(warnings.length, 1, JSON.stringify(lines));
    assert.match(warnings[0]?.msg ?? '', /pod-resources unavailable/);
    assert.match(JSON.stringify(warnings[0]), /no kubelet pod-resources socket at .*absent\.sock/);
    assert.equal(source.attribution.status().failures, 5);
    assert.equal(source.attribution.status().ok, false);
  });

  it('with a kubelet slower than the timeout: reads never wait for it, and samples carry no pod', async () => {
    const { logger, lines } = capturingLogger();
    kubelet.behaviour = { kind: 'slow', delayMs: 5000, pods: [gpuPod('a', 'b', 'c', [uuids[0] as string])] };
    const source = attributed(kubelet.socketPath, logger, 300);
    const opening = Date.now();
    await source.open();
    assert.ok(Date.now() - opening < 2000, `the start waits at most the timeout: ${Date.now() - opening} ms`);
    const refresh = source.attribution.refresh();
    const reading = Date.now();
    const samples = await source.read(Date.now());
    assert.ok(Date.now() - reading < 200, `a read during a List in flight: ${Date.now() - reading} ms`);
    assert.ok(samples.every((s) => s.pod === null));
    await refresh;
    assert.equal(lines.filter((l) => l.level === WARN).length, 1);
    assert.match(source.attribution.status().detail, /no answer within 300 ms/);
  });

  it('after an error: no pod until the kubelet answers again, then the pods are back (warned once, recovery noted)', async () => {
    const { logger, lines } = capturingLogger();
    kubelet.behaviour = {
      kind: 'pods',
      pods: [gpuPod('team-a', 'trainer-0', 'pytorch', [uuids[1] as string])],
    };
    const source = attributed(kubelet.socketPath, logger);
    await source.open();
    assert.equal((await source.read(Date.now()))[1]?.pod, 'trainer-0');
    kubelet.behaviour = { kind: 'error', code: grpc.status.INTERNAL, details: 'device manager not ready' };
    await source.attribution.refresh();
    await source.attribution.refresh();
    assert.equal((await source.read(Date.now()))[1]?.pod, null, 'a failed List drops the old answer');
    assert.equal(lines.filter((l) => l.level === WARN).length, 1);
    kubelet.behaviour = {
      kind: 'pods',
      pods: [gpuPod('team-a', 'trainer-0', 'pytorch', [uuids[1] as string])],
    };
    await source.attribution.refresh();
    assert.equal((await source.read(Date.now()))[1]?.pod, 'trainer-0');
    assert.ok(lines.some((l) => /answering again/.test(l.msg)));
    assert.equal(source.attribution.status().failures, 2);
  });

  it('names the pods again on the first refresh after the kubelet was down and restarted (no reconnection backoff)', async () => {
    kubelet.behaviour = {
      kind: 'pods',
      pods: [gpuPod('team-a', 'trainer-0', 'pytorch', [uuids[0] as string])],
    };
    const source = attributed(kubelet.socketPath);
    await source.open();
    kubelet.down();
    for (let i = 0; i < 4; i++) await source.attribution.refresh();
    assert.equal(source.attribution.status().failures, 4);
    await kubelet.restart();
    await source.attribution.refresh();
    assert.equal(source.attribution.status().ok, true, source.attribution.status().detail);
    assert.equal((await source.read(Date.now()))[0]?.pod, 'trainer-0');
    assert.equal(kubelet.lists, 2);
  });

  it('is off when kubernetes.podResourcesSocket is off or empty, and on (the kubelet path) by default', () => {
    const sim = new SimSource(SIM);
    const offByEnv = loadConfig({ env: { GPUMON_KUBERNETES_POD_RESOURCES_SOCKET: 'off' } });
    assert.equal(offByEnv.kubernetes.podResourcesSocket, '');
    assert.equal(withPodAttribution(sim, offByEnv, undefined, 'warn'), sim);
    const off = loadConfig({ flags: { 'kubernetes.podResourcesSocket': '' } });
    assert.equal(withPodAttribution(sim, off, undefined, 'warn'), sim);
    const on = withPodAttribution(sim, loadConfig(), undefined, 'warn');
    assert.ok(on instanceof PodAttributingSource);
    assert.equal(
      on.attribution.status().detail,
      'asking the kubelet at /var/lib/kubelet/pod-resources/kubelet.sock',
    );
    assert.equal(on.name, sim.name);
  });

  for (const [name, value, allowed] of [
    ['GPUMON_KUBERNETES_POD_RESOURCES_SOCKET', 'pod-resources/kubelet.sock', 'an absolute path, or off'],
    ['GPUMON_KUBERNETES_REFRESH_MS', '500', '1000..600000'],
    ['GPUMON_KUBERNETES_TIMEOUT_MS', 'fast', '100..60000'],
  ] as const) {
    it(`refuses ${name}=${value}, naming the key and what is allowed`, () => {
      const key = `kubernetes.${name
        .replace('GPUMON_KUBERNETES_', '')
        .toLowerCase()
        .replace(/_(\w)/g, (_m, c: string) => c.toUpperCase())}`;
      assert.throws(
        () => loadConfig({ env: { [name]: value } }),
        (err) =>
          isGpumonError(err, 'CONFIG_INVALID') &&
          err.message.includes(key) &&
          err.message.includes(name) &&
          err.message.includes(allowed),
      );
    });
  }
});
