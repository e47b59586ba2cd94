/**
 * A fake device plugin for the cluster tests: it registers with the test cluster's real kubelet through the
 * kubelet's device-plugin API v1beta1 (api.proto here, copied from the Kubernetes sources) and advertises
 * devices of one resource (`nvidia.com/gpu`) whose ids the test chooses, e.g. the UUIDs of the agent's
 * simulated GPUs. The kubelet then schedules pods requesting the resource onto the node, asks `Allocate`
 * for each container, and lists the granted ids in its pod-resources API, as with NVIDIA's device plugin.
 * Nothing is put into the containers (no device files, no environment): the pods only hold the ids.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/**
 * Where the kubelet and its device plugins keep their sockets: fixed in the kubelet (`pluginapi.DevicePluginPath`),
 * whatever its --root-dir (docs/decisions/0004-cluster-in-tests.md).
 */
export const DEVICE_PLUGIN_DIR = '/var/lib/kubelet/device-plugins';
export const KUBELET_REGISTRATION_SOCKET = join(DEVICE_PLUGIN_DIR, 'kubelet.sock');
const API_VERSION = 'v1beta1';
const PROTO = fileURLToPath(new URL('./api.proto', import.meta.url));

interface Api {
  Registration: grpc.ServiceClientConstructor;
  DevicePlugin: grpc.ServiceClientConstructor;
}

function loadApi(): Api {
  const definition = protoLoader.loadSync(PROTO, {
    keepCase: true, // Device.ID, ContainerPreferredAllocationResponse.deviceIDs, ...
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  return (grpc.loadPackageDefinition(definition) as unknown as { v1beta1: Api }).v1beta1;
}

type Empty = Record<string, never>;
type RegisterFn = (
  request: object,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null) => void,
) => void;
interface AllocateRequest {
  container_requests: { devices_ids: string[] }[];
}

export class FakeGpuPlugin {
  /** The device ids of each container the kubelet asked `Allocate` for, in order. */
  readonly allocations: string[][] = [];
  readonly socketPath: string;
  private readonly server = new grpc.Server();
  private readonly streams = new Set<grpc.ServerWritableStream<Empty, object>>();
  private readonly api = loadApi();

  constructor(
    readonly resourceName: string,
    readonly deviceIds: readonly string[],
    /** The plugin's socket, in DEVICE_PLUGIN_DIR (the kubelet dials it there). */
    readonly endpoint = `gpumon-test-${process.pid}.sock`,
  ) {
    this.socketPath = join(DEVICE_PLUGIN_DIR, endpoint);
  }

  /** Serves the DevicePlugin service on its socket, then registers with the kubelet. */
  async start(): Promise<this> {
    this.server.addService(this.api.DevicePlugin.service, {
      GetDevicePluginOptions: (
        _call: grpc.ServerUnaryCall<Empty, object>,
        done: grpc.sendUnaryData<object>,
      ) => done(null, { pre_start_required: false, get_preferred_allocation_available: false }),
      // One list of healthy devices, then the stream stays open: the kubelet takes its end for the plugin's.
      ListAndWatch: (call: grpc.ServerWritableStream<Empty, object>) => {
        this.streams.add(call);
        call.on('cancelled', () => this.streams.delete(call));
        call.write({ devices: this.deviceIds.map((ID) => ({ ID, health: 'Healthy' })) });
      },
      Allocate: (call: grpc.ServerUnaryCall<AllocateRequest, object>, done: grpc.sendUnaryData<object>) => {
        const requests = call.request.container_requests;
        for (const r of requests) this.allocations.push([...r.devices_ids]);
        done(null, { container_responses: requests.map(() => ({})) });
      },
      GetPreferredAllocation: (
        _call: grpc.ServerUnaryCall<object, object>,
        done: grpc.sendUnaryData<object>,
      ) => done({ code: grpc.status.UNIMPLEMENTED, details: 'not advertised' }),
      PreStartContainer: (_call: grpc.ServerUnaryCall<object, object>, done: grpc.sendUnaryData<object>) =>
        done(null, {}),
    });
    rmSync(this.socketPath, { force: true });
    await new Promise<void>((resolve, reject) =>
      this.server.bindAsync(`unix://${this.socketPath}`, grpc.ServerCredentials.createInsecure(), (err) =>
        err ? reject(err) : resolve(),
      ),
    );
    await this.register();
    return this;
  }

  private register(): Promise<void> {
    const client = new this.api.Registration(
      `unix://${KUBELET_REGISTRATION_SOCKET}`,
      grpc.credentials.createInsecure(),
      { 'grpc.default_authority': 'localhost' },
    );
    const request = {
      version: API_VERSION,
      endpoint: this.endpoint,
      resource_name: this.resourceName,
      options: { pre_start_required: false, get_preferred_allocation_available: false },
    };
    return new Promise<void>((resolve, reject) => {
      (client as unknown as { Register: RegisterFn }).Register(
        request,
        { deadline: Date.now() + 10_000 },
        (err: grpc.ServiceError | null) => {
          client.close();
          if (err) {
            reject(
              new Error(`kubelet Register at ${KUBELET_REGISTRATION_SOCKET}: ${err.details || err.message}`),
            );
          } else resolve();
        },
      );
    });
  }

  /** Ends the device streams (the kubelet marks the devices unhealthy), stops serving, removes the socket. */
  stop(): void {
    for (const s of this.streams) s.end();
    this.streams.clear();
    this.server.forceShutdown();
    rmSync(this.socketPath, { force: true });
  }
}
