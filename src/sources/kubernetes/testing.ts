import { linkSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { type PodResources, podResourcesProtocol } from './pod-resources-client.ts';

/** How the test kubelet answers List. */
export type KubeletBehaviour =
  | { kind: 'pods'; pods: PodResources[] }
  | { kind: 'slow'; delayMs: number; pods: PodResources[] }
  | { kind: 'error'; code: grpc.status; details: string };

/**
 * A kubelet for the tests: a real gRPC server on a unix socket in a private temp dir, serving
 * `v1.PodResourcesLister` from the project's copy of the Kubernetes .proto (List as `behaviour` says;
 * GetAllocatableResources and Get unimplemented, as gpumon never calls them). Counts the Lists it served.
 */
export class TestKubelet {
  readonly dir = mkdtempSync(join(tmpdir(), 'gpumon-kubelet-'));
  readonly socketPath = join(this.dir, 'kubelet.sock');
  behaviour: KubeletBehaviour = { kind: 'pods', pods: [] };
  lists = 0;
  private server = new grpc.Server();
  private readonly timers = new Set<NodeJS.Timeout>();

  private async serve(): Promise<void> {
    const { service } = await podResourcesProtocol();
    const unimplemented: grpc.handleUnaryCall<object, object> = (_call, callback) =>
      callback({ code: grpc.status.UNIMPLEMENTED, details: 'not served by the test kubelet' });
    this.server.addService(service, {
      List: (_call: grpc.ServerUnaryCall<object, object>, callback: grpc.sendUnaryData<object>) => {
        this.lists++;
        const b = this.behaviour;
        if (b.kind === 'error') {
          callback({ code: b.code, details: b.details });
        } else if (b.kind === 'slow') {
          const timer = setTimeout(() => {
            this.timers.delete(timer);
            callback(null, { pod_resources: b.pods });
          }, b.delayMs);
          this.timers.add(timer);
        } else {
          callback(null, { pod_resources: b.pods });
        }
      },
      GetAllocatableResources: unimplemented,
      Get: unimplemented,
    });
  }

  /**
   * Stops serving and leaves its socket file behind, as a kubelet that died does: connecting is refused.
   * (A hard link keeps the socket's inode while the server removes its name.)
   */
  down(): void {
    const kept = `${this.socketPath}.dead`;
    linkSync(this.socketPath, kept);
    this.server.forceShutdown();
    renameSync(kept, this.socketPath);
  }

  /** Stops serving and serves again on the same socket, as a kubelet restart does (it recreates the socket). */
  async restart(): Promise<void> {
    this.server.forceShutdown();
    rmSync(this.socketPath, { force: true });
    this.server = new grpc.Server();
    await this.start();
  }

  /** Serves the API on `socketPath`. */
  async start(): Promise<this> {
    await this.serve();
    return new Promise((resolve, reject) => {
      this.server.bindAsync(`unix://${this.socketPath}`, grpc.ServerCredentials.createInsecure(), (err) =>
        err ? reject(err) : resolve(this),
      );
    });
  }

  /** Stops at once (calls in flight are cancelled) and removes the temp dir. */
  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.server.forceShutdown();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A pod with one container holding `deviceIds` of `resource` (`nvidia.com/gpu` by default). */
export function gpuPod(
  namespace: string,
  name: string,
  container: string,
  deviceIds: string[],
  resource = 'nvidia.com/gpu',
): PodResources {
  return {
    namespace,
    name,
    containers: [{ name: container, devices: [{ resource_name: resource, device_ids: deviceIds }] }],
  };
}
