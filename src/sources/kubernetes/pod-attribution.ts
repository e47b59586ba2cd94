import type { Config } from '../../config/schema.ts';
import { describeError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { GpuSample } from '../../metrics/sample.ts';
import type { GpuDevice, GpuProcess, Source, SourceHealth } from '../source.ts';
import { gpuHolders, holderKey, type PodHolder } from './gpu-holders.ts';
import { PodResourcesClient } from './pod-resources-client.ts';

export interface PodAttributionOptions {
  /** The kubelet's pod-resources socket (`kubernetes.podResourcesSocket`). */
  socketPath: string;
  /** Ask the kubelet this often (`kubernetes.refreshMs`); the first time at `start`. */
  refreshMs: number;
  /** The longest one List may take (`kubernetes.timeoutMs`). */
  timeoutMs: number;
  logger?: Logger | undefined;
  /**
   * How a failure is logged the first time: `warn` where the socket is expected (`gpumon agent`, on a node),
   * `info` where it may well be absent (`gpumon up` on a workstation). Either way once, not per refresh.
   */
  failureLevel?: 'warn' | 'info';
  now?: () => number;
}

/** What the attribution reports of itself: for /readyz (never a reason to be unready) and /metrics. */
export interface PodAttributionStatus {
  /** Whether the last List answered. */
  readonly ok: boolean;
  /** For people: "6 GPUs held by pods, listed 2.1 s ago", or the failure. */
  readonly detail: string;
  /** Epoch ms of the last List that answered, null before the first. */
  readonly lastSuccessMs: number | null;
  /** Lists that failed since the start. */
  readonly failures: number;
  /** Devices (GPUs, MIG devices) held by a pod at the last List. */
  readonly heldDevices: number;
}

/**
 * Which pod holds each GPU of this node, from the kubelet's pod-resources API, asked every `refreshMs` off the
 * sampling loop: `attribute` only reads the last answer, so a slow or absent kubelet never delays a sample.
 * When a List fails (no socket, nothing listening, past `timeoutMs`, an error status) the answer is dropped:
 * samples carry no pod until a List answers again, rather than a pod that may have gone. The first failure
 * is logged (and the first answer after failures), not every refresh; `status()` counts them.
 */
export class PodAttribution {
  private readonly client: PodResourcesClient;
  private holders: Map<string, PodHolder> | null = null;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | null = null;
  private closed = false;
  private lastSuccessMs: number | null = null;
  private lastError: string | null = null;
  private failures = 0;
  private readonly now: () => number;

  constructor(private readonly options: PodAttributionOptions) {
    this.client = new PodResourcesClient(options.socketPath);
    this.now = options.now ?? Date.now;
  }

  /** Asks the kubelet now, then every `refreshMs`; resolves once the first List is done (or failed). */
  start(): Promise<void> {
    if (this.timer || this.closed) return Promise.resolve();
    this.timer = setInterval(() => void this.refresh(), this.options.refreshMs);
    this.timer.unref();
    return this.refresh();
  }

  /** One List (joined when one is in flight); never rejects: a failure drops the answer and is recorded. */
  refresh(): Promise<void> {
    this.inFlight ??= this.listOnce().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  /**
   * The pod holding the GPU of a sample (by UUID or MIG device id, else, for a whole GPU, by index), or null.
   * A MIG device's sample carries its parent's index: an index names the whole GPU, never one of its devices.
   */
  holderOf(sample: Pick<GpuSample, 'uuid' | 'gpu_index'>): PodHolder | null {
    if (!this.holders) return null;
    const byId = this.holders.get(holderKey(sample.uuid));
    if (byId || sample.uuid.startsWith('MIG-')) return byId ?? null;
    return this.holders.get(`index:${sample.gpu_index}`) ?? null;
  }

  /**
   * The samples with the namespace, pod and container of the pod holding their GPU. A sample whose source
   * already names its pod (dcgm-exporter's labels) keeps it; one whose GPU no pod holds keeps its nulls.
   */
  attribute(samples: GpuSample[]): GpuSample[] {
    if (!this.holders || this.holders.size === 0) return samples;
    return samples.map((s) => {
      if (s.pod !== null) return s;
      const holder = this.holderOf(s);
      return holder ? { ...s, namespace: holder.namespace, pod: holder.pod, container: holder.container } : s;
    });
  }

  status(): PodAttributionStatus {
    const heldDevices = this.holders?.size ?? 0;
    const last = this.lastSuccessMs;
    const ago = last === null ? '' : `, listed ${((this.now() - last) / 1000).toFixed(1)} s ago`;
    const detail =
      this.lastError !== null
        ? `no pod attribution (${this.failures} failed lists): ${this.lastError}`
        : last === null
          ? `asking the kubelet at ${this.options.socketPath}`
          : `${heldDevices} GPU devices held by pods${ago}`;
    return {
      ok: this.lastError === null && last !== null,
      detail,
      lastSuccessMs: last,
      failures: this.failures,
      heldDevices,
    };
  }

  /** Stops refreshing, waits for a List in flight (bounded by `timeoutMs`) and closes the channel. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.inFlight;
    this.client.close();
  }

  private async listOnce(): Promise<void> {
    try {
      const pods = await this.client.list(this.options.timeoutMs);
      this.holders = gpuHolders(pods);
      this.lastSuccessMs = this.now();
      if (this.lastError !== null) {
        this.options.logger?.info(
          { socket: this.options.socketPath, heldDevices: this.holders.size, failures: this.failures },
          'kubelet pod-resources answering again: samples carry the pod holding their GPU',
        );
      }
      this.lastError = null;
    } catch (err) {
      this.holders = null;
      this.failures++;
      const message = err instanceof Error ? err.message : String(err);
      if (this.lastError === null) {
        const level = this.options.failureLevel ?? 'warn';
        this.options.logger?.[level](
          { err: describeError(err), socket: this.options.socketPath },
          'kubelet pod-resources unavailable: samples carry no pod until it answers (logged once)',
        );
      }
      this.lastError = message;
    }
  }
}

/**
 * A source whose samples carry the pod holding their GPU: reads the wrapped source, then `attribute`s.
 * Everything else (name, health, devices, processes, the lifecycle) is the wrapped source's; `open` also
 * starts the attribution, `close` stops it.
 */
export class PodAttributingSource implements Source {
  readonly name: string;
  readonly devices?: () => GpuDevice[];
  readonly processes?: () => Promise<GpuProcess[]>;

  constructor(
    readonly inner: Source,
    readonly attribution: PodAttribution,
  ) {
    this.name = inner.name;
    if (inner.devices) this.devices = () => inner.devices?.() ?? [];
    if (inner.processes) this.processes = () => inner.processes?.() ?? Promise.resolve([]);
  }

  /** Opens the source, then waits for the first List (at most `timeoutMs`), so the first samples carry pods. */
  async open(): Promise<void> {
    await this.inner.open();
    await this.attribution.start();
  }

  async read(now: number): Promise<GpuSample[]> {
    return this.attribution.attribute(await this.inner.read(now));
  }

  health(): SourceHealth {
    return this.inner.health();
  }

  async close(): Promise<void> {
    await this.attribution.close();
    await this.inner.close();
  }
}

/**
 * The source with pod attribution when `kubernetes.podResourcesSocket` is set (the default: the kubelet's
 * path), the source itself when it is empty.
 */
export function withPodAttribution(
  source: Source,
  config: Pick<Config, 'kubernetes'>,
  logger: Logger | undefined,
  failureLevel: 'warn' | 'info',
): Source {
  const { podResourcesSocket, refreshMs, timeoutMs } = config.kubernetes;
  if (podResourcesSocket === '') return source;
  const attribution = new PodAttribution({
    socketPath: podResourcesSocket,
    refreshMs,
    timeoutMs,
    logger,
    failureLevel,
  });
  return new PodAttributingSource(source, attribution);
}
