/**
 * `gpumon up` on a Kubernetes node (kubernetes.podResourcesSocket at a kubelet: the test's gRPC server of the
 * pod-resources .proto): the archived samples carry the pod holding their GPU, null for the free ones.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { loadConfig } from '../../src/config/load.ts';
import { gpuPod, TestKubelet } from '../../src/sources/kubernetes/testing.ts';
import { SimSource } from '../../src/sources/sim/sim-source.ts';
import { interrupt, startGpumon, tempDir, waitFor } from './helpers.ts';

async function archivedPods(archive: string): Promise<Record<string, unknown>[]> {
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  try {
    const reader = await conn.runAndReadAll(
      `SELECT uuid, namespace, pod, container, count(*)::INTEGER AS n
       FROM read_parquet('${join(archive, 'gpu-metrics', '**', '*.parquet')}', union_by_name = true)
       GROUP BY ALL ORDER BY uuid, pod NULLS FIRST`,
    );
    return reader.getRowObjectsJS();
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}

describe('gpumon up on a Kubernetes node', () => {
  it('archives samples carrying the namespace, pod and container of the pod holding each GPU', async () => {
    const { hosts, gpusPerHost, seed } = loadConfig().source.sim;
    const sim = new SimSource({ hosts, gpusPerHost, seed });
    await sim.open();
    const uuids = (await sim.read(Date.now())).map((s) => s.uuid);
    await sim.close();
    const held = uuids[3] as string;
    const kubelet = await new TestKubelet().start();
    kubelet.behaviour = { kind: 'pods', pods: [gpuPod('team-a', 'trainer-0', 'pytorch', [held])] };
    const archive = tempDir('up-pods');
    const up = startGpumon(['up', '--source', 'sim', '--port', '0', '--archive', archive], {
      GPUMON_SCHEDULE_ENABLED: 'false',
      GPUMON_LOG_LEVEL: 'warn',
      GPUMON_SOURCE_INTERVAL_MS: '200',
      GPUMON_KUBERNETES_POD_RESOURCES_SOCKET: kubelet.socketPath,
    });
    try {
      await waitFor(
        'the dashboard address',
        () => /http:\/\/127\.0\.0\.1:\d+/.exec(up.stdout())?.[0],
        30_000,
      );
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      const { code } = await interrupt(up);
      kubelet.stop();
      assert.equal(code, 0, up.stderr());
    }
    const rows = await archivedPods(archive);
    const heldRows = rows.filter((r) => r.uuid === held);
    assert.deepEqual(
      heldRows.map((r) => [r.namespace, r.pod, r.container]),
      [['team-a', 'trainer-0', 'pytorch']],
      'every sample of the held GPU names its pod (the first List is awaited at the start)',
    );
    const free = rows.filter((r) => r.uuid !== held);
    assert.equal(new Set(free.map((r) => r.uuid)).size, uuids.length - 1);
    assert.ok(free.every((r) => r.namespace === null && r.pod === null && r.container === null));
    assert.doesNotMatch(up.stderr(), /pod-resources unavailable/);
  });
});
