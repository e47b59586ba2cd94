import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import type * as Grpc from '@grpc/grpc-js';
import { GpumonError } from '../../errors.ts';
import { projectPath } from '../../paths.ts';

/**
 * The kubelet's pod-resources API, v1 (found from the project root, from src/ and dist/ alike): copied from
 * the Kubernetes sources with its licence, see the header of the file.
 */
export const POD_RESOURCES_PROTO = projectPath('src', 'sources', 'kubernetes', 'proto', 'api.proto');
export const POD_RESOURCES_SERVICE = 'v1.PodResourcesLister';
/** Where the kubelet serves it on every node. */
export const KUBELET_POD_RESOURCES_SOCKET = '/var/lib/kubelet/pod-resources/kubelet.sock';

/** ListPodResourcesResponse.pod_resources, as the client reads it (the fields gpumon uses). */
export interface PodResources {
  name: string;
  namespace: string;
  containers: ContainerResources[];
}

export interface ContainerResources {
  name: string;
  devices: ContainerDevices[];
}

export interface ContainerDevices {
  resource_name: string;
  device_ids: string[];
}

/** The gRPC library and the service, loaded together. */
export interface PodResourcesProtocol {
  readonly grpc: typeof Grpc;
  readonly service: Grpc.ServiceDefinition;
}

let protocol: Promise<PodResourcesProtocol> | undefined;

/**
 * The gRPC library and the loaded service (messages keep their .proto field names; absent fields get their
 * defaults), for the client and for the tests' server. Imported on first use only: @grpc/grpc-js and the
 * .proto loader add about 17 MiB to a process, which an agent off Kubernetes, or refused the socket, never
 * pays (docs/decisions/0001-agent-memory.md).
 */
export function podResourcesProtocol(): Promise<PodResourcesProtocol> {
  protocol ??= (async () => {
    const [grpc, protoLoader] = await Promise.all([import('@grpc/grpc-js'), import('@grpc/proto-loader')]);
    const definition = protoLoader.loadSync(POD_RESOURCES_PROTO, {
      keepCase: true,
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
    });
    return { grpc, service: definition[POD_RESOURCES_SERVICE] as Grpc.ServiceDefinition };
  })();
  return protocol;
}

/** The responses of a kubelet on a busy node stay far below this; grpc's default (4 MiB) could be reached. */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

type ListFn = (
  request: object,
  options: Grpc.CallOptions,
  callback: (err: Grpc.ServiceError | null, response?: { pod_resources?: PodResources[] }) => void,
) => Grpc.ClientUnaryCall;

/**
 * A client of `v1.PodResourcesLister` over the kubelet's unix socket, as dcgm-exporter reads it: one channel,
 * kept between calls and replaced after a failed one (a restarted kubelet answers the next call, not after
 * grpc's reconnection backoff); each `List` is bounded by its deadline and fails fast while the kubelet is
 * away (no wait for the channel to be ready).
 */
export class PodResourcesClient {
  private client: Grpc.Client | undefined;

  constructor(readonly socketPath: string) {}

  /**
   * The pods of the node and the devices of their containers. Rejects with POD_RESOURCES_FAILED, naming the
   * socket: no socket at the path, nothing answering on it, no answer within `timeoutMs`, or an error status.
   */
  async list(timeoutMs: number): Promise<PodResources[]> {
    await this.checkSocket();
    const { grpc, service } = await podResourcesProtocol();
    const client = this.connect(grpc, service);
    const list = (client as unknown as { List: ListFn }).List.bind(client);
    return new Promise<PodResources[]>((resolve, reject) => {
      list({}, { deadline: Date.now() + timeoutMs }, (err, response) => {
        if (err) {
          // A fresh channel next time: grpc's reconnection backoff (up to 2 min) would outlast a kubelet restart.
          this.close();
          const why =
            err.code === grpc.status.DEADLINE_EXCEEDED
              ? `no answer within ${timeoutMs} ms`
              : `${grpc.status[err.code] ?? err.code}: ${err.details || err.message}`;
          reject(
            new GpumonError(
              'POD_RESOURCES_FAILED',
              `kubelet pod-resources List at ${this.socketPath}: ${why}`,
              {
                cause: err,
              },
            ),
          );
          return;
        }
        resolve(response?.pod_resources ?? []);
      });
    });
  }

  close(): void {
    this.client?.close();
    this.client = undefined;
  }

  private async checkSocket(): Promise<void> {
    let isSocket: boolean;
    try {
      isSocket = (await stat(this.socketPath)).isSocket();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EACCES') throw this.notAllowed(err);
      throw new GpumonError(
        'POD_RESOURCES_FAILED',
        `no kubelet pod-resources socket at ${this.socketPath} (kubernetes.podResourcesSocket; on Kubernetes, ` +
          'mount /var/lib/kubelet/pod-resources from the host)',
        { cause: err },
      );
    }
    if (!isSocket) {
      throw new GpumonError(
        'POD_RESOURCES_FAILED',
        `${this.socketPath} is not a socket (kubernetes.podResourcesSocket)`,
      );
    }
    try {
      // Connecting to a unix socket needs write permission on it; the kubelet makes it root's (0755).
      await access(this.socketPath, constants.W_OK);
    } catch (err) {
      throw this.notAllowed(err);
    }
  }

  private notAllowed(cause: unknown): GpumonError {
    return new GpumonError(
      'POD_RESOURCES_FAILED',
      `the kubelet pod-resources socket ${this.socketPath} is not writable by uid ${process.getuid?.() ?? '?'}: ` +
        'the kubelet serves it to root only (docs/deployment.md, pod attribution)',
      { cause },
    );
  }

  private connect(grpc: typeof Grpc, service: Grpc.ServiceDefinition): Grpc.Client {
    if (!this.client) {
      const Client = grpc.makeGenericClientConstructor(service, 'PodResourcesLister');
      this.client = new Client(`unix://${this.socketPath}`, grpc.credentials.createInsecure(), {
        'grpc.max_receive_message_length': MAX_RESPONSE_BYTES,
        // The kubelet serves one local socket: the authority is never looked up.
        'grpc.default_authority': 'localhost',
      });
    }
    return this.client;
  }
}
