import type { Logger } from '../log.ts';
import type { PrometheusNames } from '../metrics/prometheus.ts';
import type { AlertEpisode } from '../pipeline/alerts.ts';
import type { LiveView } from '../pipeline/live-state.ts';
import type { CpuPackageTemperature } from '../sources/host/hwmon.ts';
import type { GpuProcess, SourceHealth } from '../sources/source.ts';
import type { HealthCheck } from './api-types.ts';
import type { SecurityOptions } from './security.ts';
import type { WebAssets } from './web-assets.ts';

/**
 * The analytics runs, as the server sees them. The scheduler adapts to it.
 * Run records are opaque to the server: it passes them to the page as they are.
 */
export interface RunsApi {
  /** Run records, newest first. */
  list(): Promise<unknown[]>;
  /**
   * Starts a run now unless one is running; `reason` says why not, `refusal` what kind of no it is
   * (RUNS_NOT_AVAILABLE: this server cannot run analytics at all). Resolves once the run has started.
   */
  trigger(): Promise<{
    started: boolean;
    reason?: string;
    refusal?: 'RUN_IN_PROGRESS' | 'RUNS_NOT_AVAILABLE';
    run?: unknown;
  }>;
  /** Epoch ms of the next scheduled run, or null when none is scheduled. */
  nextRunAt(): number | null;
  /** Why this server cannot start runs at all (`gpumon serve`); absent: it can. The page shows it. */
  cannotRun?: string;
}

/** The results of the daily analytics, by day (YYYY-MM-DD) and analysis name (`[a-z_]+`). */
export interface ResultsApi {
  /** Days that have results, in any order. */
  dates(): Promise<string[]>;
  /** The summary of one day, or null when that day has none. */
  summary(date: string): Promise<unknown | null>;
  /**
   * The rows of one analysis of one day (from row `offset`, at most `limit`, only GPU `uuid`'s if given), or
   * null when there are none. The server bounds how many run at once (`ServerLimits`).
   */
  result(
    date: string,
    analysis: string,
    filter: { limit: number; offset?: number; uuid?: string },
  ): Promise<Record<string, unknown>[] | null>;
}

/** Count, sum, min and max of one metric's values in one time bucket (no value: count 0). */
export interface BucketStats {
  count: number;
  sum: number;
  min: number;
  max: number;
}

/** Time buckets by index (`floor(ts / bucketMs)`), each with the stats of every metric asked, in order. */
export type HistoryBuckets = Map<number, BucketStats[]>;

/** Per time bucket (by index): samples with a value of a bitmask, and per bit asked those with it set. */
export type FlagBuckets = Map<number, { measured: number; set: number[] }>;

/** A GPU's samples in the Parquet archive, downsampled (server/archive-history.ts). */
export interface ArchiveHistoryApi {
  /** Buckets of `metrics` of GPU `uuid` over the samples with `fromMs <= ts < toMs`. */
  buckets(
    uuid: string,
    query: { metrics: readonly string[]; fromMs: number; toMs: number; bucketMs: number },
  ): Promise<HistoryBuckets>;
  /**
   * Buckets of bitmask `metric` of GPU `uuid`: per bucket, the samples with a value (`measured`) and, for
   * each of `bits` in order, those with that bit set.
   */
  flagBuckets(
    uuid: string,
    metric: string,
    bits: readonly number[],
    query: { fromMs: number; toMs: number; bucketMs: number },
  ): Promise<FlagBuckets>;
  /** Per GPU, the first and the last reading of counter `metric` with `fromMs <= ts < toMs`. */
  counterSpans(
    metric: string,
    fromMs: number,
    toMs: number,
  ): Promise<Map<string, { first: number; last: number }>>;
}

/** What the HTTP server reads from the rest of gpumon. It never writes to any of it, except `runs.trigger`. */
export interface ServerDeps {
  live: LiveView;
  sources: () => SourceHealth[];
  /**
   * This machine's CPU packages and their temperatures from the live source's last fresh read (`gpumon up` on a
   * source that reads the host), for /metrics; absent or null: none shown.
   */
  cpuPackages?: () => { host: string; packages: readonly CpuPackageTemperature[] } | null;
  /** Absent: the /api/runs routes answer 404 NOT_CONFIGURED. */
  runs?: RunsApi;
  /** Absent: the /api/analytics routes answer 404 NOT_CONFIGURED. */
  results?: ResultsApi;
  /** The alert episodes of the live fleet (AlertEpisodeLog.list); absent: /api/alerts/episodes is 404. */
  episodes?: () => AlertEpisode[];
  /**
   * The processes using the GPUs now, from the live source (`Source.processes`); absent: the server has no
   * source that lists them, and /api/gpus/:uuid/processes says why.
   */
  processes?: () => Promise<GpuProcess[]>;
  /** The samples archive, for history beyond the live window; absent: history from the live buffer only. */
  archive?: ArchiveHistoryApi;
  /** The checks of the server's health (source, archive, analytics); absent: no checks, always ok. */
  health?: () => Promise<HealthCheck[]>;
  logger: Logger;
  version: string;
}

/** Tuning of the server; every field has a default. */
export interface AppOptions {
  /** The sampling interval, told to the page so it can mark late samples as gaps; null: the page estimates it. */
  sampleIntervalMs?: number | null;
  /** An alert flag of a GPU stays up this long after the sample that raised it. Default: 3 intervals, else 10 s. */
  alertWindowMs?: number;
  /**
   * Below `loadPercent` a GPU is idle, and idle with more than `memoryBytes` used it holds memory: the
   * configuration's `analytics.idleLoadPercent` and `analytics.idleMemoryBytes`, told to the page. Default 5 %, 1 GiB.
   */
  idle?: { loadPercent: number; memoryBytes: number };
  /** An idle live stream sends a comment this often so proxies keep it open. Default 15 s. */
  heartbeatMs?: number;
  /** The page's files; pass one to build them at startup (`await assets.warm()`). Default: built on first request. */
  assets?: WebAssets;
  /** The clock, for tests. */
  now?: () => number;
  /** What the server lets clients take at once (`server.*` in the configuration). Default: DEFAULT_LIMITS. */
  limits?: Partial<ServerLimits>;
  /** Token, allowed hosts and origins, HTTPS (docs/security.md). Default: no token, loopback names, no CORS. */
  security?: SecurityOptions;
  /** The names of the GPU metrics on /metrics (`prometheus.names`; docs/prometheus.md). Default: both. */
  prometheusNames?: PrometheusNames;
}

/** Bounds on what clients may take from the server at once; `server.*` keys of the configuration. */
export interface ServerLimits {
  /** Result reads running at a time (each on a connection of the one DuckDB instance). */
  maxConcurrentReads: number;
  /** Result reads waiting for a turn; beyond, 503 SERVER_BUSY with Retry-After. */
  maxQueuedReads: number;
  /** Rows of one analytics result response at most. */
  maxResultRows: number;
  /** Live streams open at a time; beyond, 503 SERVER_BUSY with Retry-After. */
  maxStreams: number;
  /** A live stream client leaving more than this many bytes unsent is disconnected. */
  streamMaxBufferedBytes: number;
}

/** The defaults of the configuration's `server.*` limits. */
export const DEFAULT_LIMITS: ServerLimits = {
  maxConcurrentReads: 4,
  maxQueuedReads: 64,
  maxResultRows: 10_000,
  maxStreams: 100,
  streamMaxBufferedBytes: 1_048_576,
};
