import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { isGpumonError } from '../../errors.ts';
import { PROJECT_ROOT as ROOT } from '../../paths.ts';
import { PodResourcesClient } from './pod-resources-client.ts';
import { gpuPod, TestKubelet } from './testing.ts';

const GPU0 = 'GPU-4b0b1d4a-6c1e-3a44-8f2d-0a6f3c9e0b11';

describe("the kubelet's pod-resources client (gRPC over a unix socket)", () => {
  let kubelet: TestKubelet;
  before(async () => {
    kubelet = await new TestKubelet().start();
  });
  after(() => kubelet.stop());

  it('lists the pods and the devices of their containers, as the kubelet sends them', async () => {
    kubelet.behaviour = {
      kind: 'pods',
      pods: [
        gpuPod('team-a', 'trainer-0', 'pytorch', [GPU0]),
        { namespace: 'kube-system', name: 'coredns-1', containers: [{ name: 'coredns', devices: [] }] },
      ],
    };
    const client = new PodResourcesClient(kubelet.socketPath);
    try {
      const pods = await client.list(2000);
      assert.equal(pods.length, 2);
      assert.equal(pods[0]?.namespace, 'team-a');
      assert.equal(pods[0]?.name, 'trainer-0');
      assert.deepEqual(pods[0]?.containers[0]?.devices[0], {
        resource_name: 'nvidia.com/gpu',
        device_ids: [GPU0],
        topology: null,
      });
      assert.deepEqual(pods[1]?.containers[0]?.devices, []);
    } finally {
      client.close();
    }
  });

  it('fails with POD_RESOURCES_FAILED naming the socket and the key when there is no socket', async () => {
    const missing = join(kubelet.dir, 'absent.sock');
    const client = new PodResourcesClient(missing);
    await assert.rejects(
      client.list(1000),
      (err) =>
        isGpumonError(err, 'POD_RESOURCES_FAILED') &&
        err.message.includes(missing) &&
        err.message.includes('kubernetes.podResourcesSocket'),
    );
  });

  it('refuses a path that is a plain file, not a socket', async () => {
    const file = join(kubelet.dir, 'not-a-socket');
    writeFileSync(file, 'x');
    await assert.rejects(new PodResourcesClient(file).list(1000), /is not a socket/);
  });

  it("names the uid when the socket is the kubelet's (root's, 0755) and the agent's user may not connect", async () => {
    kubelet.behaviour = { kind: 'pods', pods: [] };
    chmodSync(kubelet.dir, 0o755); // as /var/lib/kubelet/pod-resources is
    chmodSync(kubelet.socketPath, 0o755);
    if (process.getuid?.() === 0) {
      // Root may connect anyway: ask as nobody (uid 65534), in a child process.
      const child = spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          '-e',
          `import('./src/sources/kubernetes/pod-resources-client.ts').then((m) => new m.PodResourcesClient(${JSON.stringify(kubelet.socketPath)}).list(1000)).then(() => console.log('listed'), (e) => console.log(e.code, e.message))`,
        ],
        {
          uid: 65534,
          gid: 65534,
          encoding: 'utf8',
          cwd: ROOT,
        },
      );
      assert.match(
        child.stdout,
        /^POD_RESOURCES_FAILED .*is not writable by uid 65534.*root only/m,
        child.stderr,
      );
    } else {
      chmodSync(kubelet.socketPath, 0o555);
      try {
        await assert.rejects(
          new PodResourcesClient(kubelet.socketPath).list(1000),
          /is not writable by uid \d+/,
        );
      } finally {
        chmodSync(kubelet.socketPath, 0o755);
      }
    }
  });

  it('gives up on a kubelet that does not answer within the timeout', async () => {
    kubelet.behaviour = { kind: 'slow', delayMs: 3000, pods: [] };
    const client = new PodResourcesClient(kubelet.socketPath);
    const started = Date.now();
    try {
      await assert.rejects(
        client.list(300),
        (err) => isGpumonError(err, 'POD_RESOURCES_FAILED') && /no answer within 300 ms/.test(err.message),
      );
      assert.ok(Date.now() - started < 2000, `bounded by the timeout: ${Date.now() - started} ms`);
    } finally {
      client.close();
    }
  });

  it("reports the kubelet's error status and message", async () => {
    kubelet.behaviour = {
      kind: 'error',
      code: grpc.status.PERMISSION_DENIED,
      details: 'pod resources are off',
    };
    const client = new PodResourcesClient(kubelet.socketPath);
    try {
      await assert.rejects(client.list(1000), /PERMISSION_DENIED: pod resources are off/);
    } finally {
      client.close();
    }
  });
});
