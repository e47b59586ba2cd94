import type { SourceHealth } from '../sources/source.ts';

/**
 * A live feed: what fills the live state of `gpumon serve` (the page, /api/gpus, /api/stream, /metrics) from
 * a store that other processes write, rather than from a source that this process samples. `gpumon up` needs
 * none: its pipeline applies every sample it takes.
 *
 * Lifecycle: `start` once (it returns at once; the feed polls in the background and never throws: a failed
 * poll is counted, logged and tried again), `health` any time, `stop` once, which resolves when no poll is in
 * flight any more. The feed is the only writer of the live state it was given.
 */
export interface LiveFeed {
  readonly name: string;
  start(): void;
  health(): LiveFeedHealth;
  stop(): Promise<void>;
}

/** What a live feed says of itself: /api/health's `live` check, the `sources` of /api/health and /metrics. */
export interface LiveFeedHealth {
  /** The kind of store: `influxdb`. */
  feed: string;
  /** Where it reads, without credentials, for people: `http://influxdb:8086 database gpumon`. */
  target: string;
  /** Epoch ms the feed started. */
  startedAtMs: number;
  /** Epoch ms (this machine's clock) of the end of the last poll that succeeded; null before the first. */
  lastPollMs: number | null;
  /** How long that poll took, ms. */
  lastPollDurationMs: number | null;
  /** The newest sample's own timestamp (the agents' clock); null while none was read. */
  newestSampleMs: number | null;
  /** GPUs seen since the start. */
  gpus: number;
  /** Polls that failed since the start. */
  failures: number;
  /** Epoch ms of the first failure of the failures going on now; null while polls succeed. */
  failingSinceMs: number | null;
  /** The error of the last failed poll, while polls fail. */
  lastError: string | null;
  /** Rows of the store that were not valid samples (skipped, the first one logged). */
  invalid: number;
}

/** A feed as one of the server's sources (/api/health `sources`, /metrics `gpumon_source_*`). */
export function liveFeedSource(health: LiveFeedHealth): SourceHealth {
  return {
    source: health.feed,
    lastSuccessMs: health.lastPollMs,
    lastReadDurationMs: health.lastPollDurationMs,
    errors: {
      ...(health.failures > 0 ? { poll: health.failures } : {}),
      ...(health.invalid > 0 ? { invalid_row: health.invalid } : {}),
    },
    notice: null,
  };
}
