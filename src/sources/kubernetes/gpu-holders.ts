import type { PodResources } from './pod-resources-client.ts';

/** The workload holding a GPU: the pod, its namespace, and the container the device is assigned to. */
export interface PodHolder {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
}

/**
 * Whether a device-plugin resource is an NVIDIA GPU: `nvidia.com/gpu` (whole GPUs), `nvidia.com/gpu.<x>`
 * (the device plugin's renamed shared GPUs, e.g. `nvidia.com/gpu.shared` with time-slicing) and
 * `nvidia.com/mig-<profile>` (MIG devices, the mixed strategy). Other resources (CPUs, NICs, ...) are not.
 */
export function isGpuResource(name: string): boolean {
  return (
    name === 'nvidia.com/gpu' || name.startsWith('nvidia.com/gpu.') || name.startsWith('nvidia.com/mig-')
  );
}

/**
 * The key of a device id in the map of `gpuHolders`:
 * - a GPU UUID (`GPU-...`) or a MIG device id (`MIG-<uuid>`, or `MIG-GPU-<uuid>/<gi>/<ci>` of drivers
 *   before 470) is its own key, the `uuid` samples carry;
 * - a time-sliced replica `<id>::<n>` (the device plugin's sharing) is the device it replicates;
 * - a plain index (`0`, the device plugin's `deviceIDStrategy: index`) is `index:<n>`, matched against
 *   the sample's `gpu_index`.
 */
export function holderKey(deviceId: string): string {
  const id = deviceId.split('::')[0] ?? deviceId;
  return /^\d+$/.test(id) ? `index:${Number(id)}` : id;
}

/**
 * Which pod holds each GPU of the node, from the kubelet's List: device key (`holderKey`) -> holder. Only GPU
 * resources count (`isGpuResource`). A device several containers hold (time-slicing replicas) is given to the
 * first of them in (namespace, pod, container) order, so the answer does not depend on the kubelet's order.
 * Pods without a name or namespace (never sent by a kubelet) are skipped.
 */
export function gpuHolders(pods: readonly PodResources[]): Map<string, PodHolder> {
  const holders = new Map<string, PodHolder>();
  for (const pod of pods) {
    if (!pod.name || !pod.namespace) continue;
    for (const container of pod.containers ?? []) {
      for (const devices of container.devices ?? []) {
        if (!isGpuResource(devices.resource_name)) continue;
        for (const id of devices.device_ids ?? []) {
          if (!id) continue;
          const key = holderKey(id);
          const holder: PodHolder = { namespace: pod.namespace, pod: pod.name, container: container.name };
          const held = holders.get(key);
          if (held === undefined || compareHolders(holder, held) < 0) holders.set(key, holder);
        }
      }
    }
  }
  return holders;
}

function compareHolders(a: PodHolder, b: PodHolder): number {
  return (
    a.namespace.localeCompare(b.namespace, 'en') ||
    a.pod.localeCompare(b.pod, 'en') ||
    a.container.localeCompare(b.container, 'en')
  );
}
