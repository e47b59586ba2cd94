/**
 * The wire types of the HTTP API and of the live stream: what the server sends and the page reads.
 * The page imports these as types only, so both sides agree at compile time.
 */
import type { MetricDef, MetricName } from '../metrics/catalog.ts';
import type { GpuIdentity, GpuSample } from '../metrics/sample.ts';
import type { AlertEvent } from '../pipeline/alerts.ts';
import type { Series } from '../pipeline/live-state.ts';
import type { SourceHealth } from '../sources/source.ts';

export const API_ERROR_CODES = [
  'BAD_REQUEST',
  'NOT_FOUND',
  'NOT_CONFIGURED',
  'RUN_IN_PROGRESS',
  'ASSET_BUILD_FAILED',
  'INTERNAL',
] as const;
export type ApiErrorCode = (typeof API_ERROR_CODES)[number];

export interface ApiErrorBody {
  error: { code: ApiErrorCode | string; message: string };
}

export interface HealthResponse {
  status: 'ok';
  version: string;
  sources: SourceHealth[];
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

export interface AlertsResponse {
  alerts: AlertEvent[];
}

export interface RunsResponse {
  runs: unknown[];
  nextRunAt: number | null;
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
  rows: Record<string, unknown>[];
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
