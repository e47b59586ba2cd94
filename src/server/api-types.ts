/**
 * The wire types of the HTTP API and of the live stream: what the server sends and the page reads.
 * The page imports these as types only, so both sides agree at compile time.
 */
import type { MetricDef, MetricName } from '../metrics/catalog.ts';
import type { GpuIdentity, GpuSample } from '../metrics/sample.ts';
import type { AlertEpisode, AlertEvent } from '../pipeline/alerts.ts';
import type { Series } from '../pipeline/live-state.ts';
import type { SourceHealth } from '../sources/source.ts';

export const API_ERROR_CODES = [
  'BAD_REQUEST',
  'NOT_FOUND',
  'NOT_CONFIGURED',
  'RUN_IN_PROGRESS',
  'RUNS_NOT_AVAILABLE',
  'UNAUTHORIZED',
  'HOST_NOT_ALLOWED',
  'CROSS_ORIGIN_REFUSED',
  'UNSUPPORTED_MEDIA_TYPE',
  'METHOD_NOT_ALLOWED',
  'SERVER_BUSY',
  'ASSET_BUILD_FAILED',
  'INTERNAL',
] as const;
export type ApiErrorCode = (typeof API_ERROR_CODES)[number];

export interface ApiErrorBody {
  /** `requestId` is also in the response's X-Request-Id header, and names the request in the server log. */
  error: { code: ApiErrorCode | string; message: string; requestId: string };
}

/** GET /api/session: whether this server needs the token, and whether this client has sent it. */
export interface SessionResponse {
  required: boolean;
  authenticated: boolean;
}

/** POST /api/session: the token, exchanged for a session cookie. */
export interface SessionRequest {
  token: string;
}

/** ok: all is well; degraded: it works, with a part at fault; failing: it does not do its job (/readyz 503). */
export type HealthStatus = 'ok' | 'degraded' | 'failing';

export const HEALTH_STATUSES = ['ok', 'degraded', 'failing'] as const satisfies readonly HealthStatus[];

/** One part of the server's health: `source`, `archive`, `analytics`. */
export interface HealthCheck {
  name: string;
  status: HealthStatus;
  /** What was seen, for people: "sim: last read 0.8 s ago", "every write failing for 42 s". */
  detail: string;
}

export interface HealthResponse {
  /** The worst status of the checks (ok when there are none). */
  status: HealthStatus;
  /** `name: detail` of every check that is not ok, worst first. */
  reasons: string[];
  checks: HealthCheck[];
  version: string;
  sources: SourceHealth[];
}

/**
 * GET /healthz (liveness: `alive` while the server answers) and GET /readyz (`ready` unless the health is
 * failing, then 503). Open to probes without the token, so they carry the status and no details.
 */
export interface ProbeResponse {
  status: 'alive' | 'ready' | 'not ready';
  health?: HealthStatus;
}

export type CatalogEntry = Pick<MetricDef, 'name' | 'unit' | 'kind' | 'help'>;

export interface CatalogResponse {
  metrics: CatalogEntry[];
}

/** Whether a GPU raised an alert of each family within the alert window before its latest sample. */
export interface AlertFlags {
  /** high_temperature or temperature_spike */
  temperature: boolean;
  /** high_load */
  load: boolean;
  /** high_power */
  power: boolean;
}

export type GpuView = GpuSample & { alerts: AlertFlags };

export interface GpusResponse {
  gpus: GpuView[];
}

export type SeriesResponse = Series;

/** One metric of GET /api/gpus/:uuid/history: per point, the mean, min and max of its bucket (null: none). */
export interface HistorySeries {
  mean: (number | null)[];
  min: (number | null)[];
  max: (number | null)[];
}

/** GET /api/gpus/:uuid/history: a GPU's metrics over a range, in time buckets of `bucketMs`. */
export interface HistoryResponse {
  uuid: string;
  /** The range asked, epoch ms (`to` excluded). */
  from: number;
  to: number;
  bucketMs: number;
  /** Where the points came from: the archive (before the live buffer), the live buffer. */
  sources: ('archive' | 'live')[];
  /** Each bucket's start; a bucket followed by a gap is followed by a point of nulls. */
  ts: number[];
  series: Record<string, HistorySeries>;
}

/** One process holding a GPU's memory, in GET /api/gpus/:uuid/processes. */
export interface ProcessView {
  pid: number;
  /** As the driver or /proc names it; null when unknown. */
  name: string | null;
  /** Device memory it uses, bytes; null where the driver does not say. */
  usedMemoryBytes: number | null;
  /** The device it runs on: the GPU's uuid, or its MIG instance's. */
  deviceUuid: string;
  /** On a MIG instance: the instance (`MIG 3g.40gb, GPU instance 1`); null on a whole GPU. */
  migInstance: string | null;
}

/**
 * GET /api/gpus/:uuid/processes: the processes using the GPU (and its MIG instances) now, read from the live
 * source; `unavailable` says why there is no list (no live source, a source that cannot list them).
 */
export interface GpuProcessesResponse {
  uuid: string;
  /** When the source listed them, epoch ms; null when unavailable. */
  at: number | null;
  unavailable: string | null;
  /** Largest memory first. */
  processes: ProcessView[];
}

/** A throttle (clock event) reason of the NVML bitmask `gpu_clock_throttle_reasons`, as the page names it. */
export interface ThrottleReason {
  bit: number;
  key: string;
  label: string;
  /** What it means, for a tooltip. */
  help: string;
}

/**
 * GET /api/gpus/:uuid/throttle: per time bucket (as /history's), how many samples knew the throttle reasons
 * and how many had each reason active. Only buckets with a reason active are listed.
 */
export interface ThrottleResponse {
  uuid: string;
  from: number;
  to: number;
  bucketMs: number;
  sources: ('archive' | 'live')[];
  reasons: readonly ThrottleReason[];
  /** Each listed bucket's start. */
  ts: number[];
  /** Samples with a known bitmask, per listed bucket. */
  measured: number[];
  /** By reason key: samples with the reason active, per listed bucket. */
  active: Record<string, number[]>;
  /** Over the whole range: samples with a known bitmask, and by reason key those with the reason active. */
  totals: { measured: number; active: Record<string, number> };
}

/** GET /api/fleet/energy?from=: the energy the fleet used since `from`, from each GPU's energy counter. */
export interface FleetEnergyResponse {
  from: number;
  to: number;
  /** The sum over the GPUs of their counter's rise (a GPU whose counter went back is left out). */
  kwh: number;
  /** GPUs counted. */
  gpus: number;
}

export interface AlertsResponse {
  alerts: AlertEvent[];
}

/** GET /api/alerts/episodes: the episodes asked for (latest start first), how many matched, every host seen. */
export interface AlertEpisodesResponse {
  episodes: AlertEpisode[];
  total: number;
  hosts: string[];
}

export interface RunsResponse {
  runs: unknown[];
  nextRunAt: number | null;
  /** Whether POST /api/runs can start a run on this server; if not, `cannotRunReason` says why. */
  canRun: boolean;
  cannotRunReason: string | null;
}

export interface TriggerResponse {
  started: true;
  run: unknown;
}

export interface AnalyticsDatesResponse {
  /** Newest first. */
  dates: string[];
}

export interface AnalyticsSummaryResponse {
  date: string;
  summary: unknown;
}

export interface AnalyticsResultResponse {
  date: string;
  analysis: string;
  /** Rows skipped before the first one here (`?offset=`). */
  offset: number;
  rows: Record<string, unknown>[];
  /** More rows follow (beyond `?limit=` or the server's cap): ask again with offset + rows.length. */
  truncated: boolean;
}

export type { GpuIdentity };

/**
 * One sample on the live stream: its metric values in the order of the snapshot's `metrics`. `id` comes the
 * first time the stream carries a GPU that was not in its snapshot.
 */
export interface CompactSample {
  uuid: string;
  ts: number;
  v: (number | null)[];
  id?: GpuIdentity;
}

/** The events of GET /api/stream, by name; `data` is the JSON of the payload. */
export interface StreamEvents {
  /** First event of every connection: the latest state of every GPU. */
  snapshot: {
    metrics: readonly MetricName[];
    /** The sampling interval in ms, or null when the server does not know it. */
    intervalMs: number | null;
    alertWindowMs: number;
    /** The server's `analytics.idleLoadPercent` and `analytics.idleMemoryBytes`: what the page calls idle. */
    idle: { loadPercent: number; memoryBytes: number };
    gpus: GpuView[];
  };
  /** New samples, as they are applied to the live state. */
  samples: { samples: CompactSample[] };
  /** New alerts. */
  alerts: { alerts: AlertEvent[] };
}

export type StreamEventName = keyof StreamEvents;

export const STREAM_EVENT_NAMES = [
  'snapshot',
  'samples',
  'alerts',
] as const satisfies readonly StreamEventName[];
