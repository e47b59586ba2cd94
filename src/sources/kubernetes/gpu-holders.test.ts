import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gpuHolders, holderKey, isGpuResource } from './gpu-holders.ts';
import { gpuPod } from './testing.ts';

const GPU0 = 'GPU-4b0b1d4a-6c1e-3a44-8f2d-0a6f3c9e0b11';
const GPU1 = 'GPU-9e2f6d10-1c3a-4b7e-9a0d-5f1e2c3b4a55';
const MIG = 'MIG-2f4a6c8e-1b3d-5f70-9a1c-3e5f7a9b1c2d';

describe('which pod holds each GPU (the kubelet List, mapped)', () => {
  it('maps whole GPUs and MIG devices to the namespace, pod and container holding them', () => {
    const holders = gpuHolders([
      gpuPod('team-a', 'trainer-0', 'pytorch', [GPU0]),
      gpuPod('team-b', 'notebook-7', 'jupyter', [MIG], 'nvidia.com/mig-1g.10gb'),
    ]);
    assert.deepEqual(holders.get(GPU0), { namespace: 'team-a', pod: 'trainer-0', container: 'pytorch' });
    assert.deepEqual(holders.get(MIG), { namespace: 'team-b', pod: 'notebook-7', container: 'jupyter' });
    assert.equal(holders.get(GPU1), undefined, 'a free GPU is held by no pod');
    assert.equal(holders.size, 2);
  });

  it('keeps MIG device names of drivers before 470 (MIG-GPU-<uuid>/<gi>/<ci>) as they are', () => {
    const old = `MIG-${GPU1}/7/0`;
    const holders = gpuHolders([gpuPod('ml', 'infer-1', 'server', [old], 'nvidia.com/mig-1g.5gb')]);
    assert.equal(holders.get(old)?.pod, 'infer-1');
  });

  it('ignores resources other than NVIDIA GPUs, and containers without devices', () => {
    const holders = gpuHolders([
      {
        namespace: 'net',
        name: 'router',
        containers: [
          {
            name: 'sriov',
            devices: [{ resource_name: 'intel.com/sriov_netdevice', device_ids: ['0000:3b:02.1'] }],
          },
          { name: 'sidecar', devices: [] },
        ],
      },
      gpuPod('other', 'amd', 'rocm', ['0'], 'amd.com/gpu'),
    ]);
    assert.equal(holders.size, 0);
    assert.equal(isGpuResource('nvidia.com/gpu'), true);
    assert.equal(isGpuResource('nvidia.com/gpu.shared'), true);
    assert.equal(isGpuResource('nvidia.com/mig-3g.40gb'), true);
    assert.equal(isGpuResource('nvidia.com/gpus'), false);
    assert.equal(isGpuResource('amd.com/gpu'), false);
  });

  it('gives a time-sliced GPU to the first of its pods in (namespace, pod, container) order, whatever the kubelet order', () => {
    const a = gpuPod('team-b', 'worker-2', 'main', [`${GPU0}::1`], 'nvidia.com/gpu.shared');
    const b = gpuPod('team-a', 'worker-9', 'main', [`${GPU0}::3`], 'nvidia.com/gpu.shared');
    assert.equal(gpuHolders([a, b]).get(GPU0)?.pod, 'worker-9');
    assert.equal(gpuHolders([b, a]).get(GPU0)?.pod, 'worker-9');
  });

  it('keys devices listed by index (deviceIDStrategy: index) by the GPU index', () => {
    assert.equal(holderKey('3'), 'index:3');
    assert.equal(holderKey(GPU0), GPU0);
    assert.equal(holderKey(`${GPU0}::0`), GPU0);
    assert.equal(gpuHolders([gpuPod('x', 'p', 'c', ['1'])]).get('index:1')?.container, 'c');
  });

  it('skips a pod without a name or namespace, and empty device ids', () => {
    const holders = gpuHolders([gpuPod('', 'nameless', 'c', [GPU0]), gpuPod('ns', 'pod', 'c', [''])]);
    assert.equal(holders.size, 0);
  });
});
