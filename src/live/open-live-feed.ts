import type { Config } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import { AlertEvaluator } from '../pipeline/alerts.ts';
import { InfluxClient } from '../sinks/influxdb/influx-client.ts';
import { InfluxDbLiveFeed, type LiveSink } from './influxdb/influxdb-live-feed.ts';
import type { LiveFeed } from './live-feed.ts';

/** The longest `serve.live: auto` waits for InfluxDB's answer at start. */
export const AUTO_PROBE_TIMEOUT_MS = 3000;

/** What `gpumon serve` runs for its live fleet, and the line that says so at start. */
export interface LiveFeedChoice {
  feed: LiveFeed | null;
  /** For people: where the live data comes from, or why there is none. */
  says: string;
}

/** `http://user:pass@influxdb:8086/` -> `http://influxdb:8086 database gpumon`: for messages, no credentials. */
export function influxTarget(options: Config['influxdb']): string {
  let url = options.url;
  try {
    const parsed = new URL(options.url);
    parsed.username = '';
    parsed.password = '';
    url = parsed.toString().replace(/\/+$/, '');
  } catch {
    // an invalid URL was refused by the configuration already; keep it as written
  }
  const rp = options.retentionPolicy ? ` retention policy ${options.retentionPolicy}` : '';
  return `${url} database ${options.database}${rp}`;
}

/**
 * The live feed `serve.live` asks for: `influxdb` always (InfluxDB away at start is a degraded health, polled
 * on); `auto` only if InfluxDB answers a query within AUTO_PROBE_TIMEOUT_MS (the database exists and the
 * credentials may read it); `none` never. Not started: the caller starts it once the server listens. `alerts`
 * evaluates the live samples (the server passes one that reports its alert episodes).
 */
export async function openLiveFeed(
  config: Config,
  live: LiveSink,
  logger: Logger,
  alerts: AlertEvaluator = new AlertEvaluator(config.alerts, config.analytics.maxGapSeconds * 1000),
): Promise<LiveFeedChoice> {
  const mode = config.serve.live;
  const target = influxTarget(config.influxdb);
  if (mode === 'none')
    return { feed: null, says: 'no live fleet (serve.live none): the analytics results only' };
  if (mode === 'auto') {
    const probe = new InfluxClient({
      ...config.influxdb,
      timeoutMs: Math.min(config.influxdb.timeoutMs, AUTO_PROBE_TIMEOUT_MS),
    });
    try {
      await probe.query('SHOW MEASUREMENTS LIMIT 1');
    } catch (err) {
      return {
        feed: null,
        says:
          `no live fleet: serve.live auto found no InfluxDB at ${target} (${(err as Error).message}); ` +
          'set serve.live to influxdb to wait for it, or none to silence this',
      };
    }
  }
  const feed = new InfluxDbLiveFeed({
    client: new InfluxClient(config.influxdb, logger),
    target,
    live,
    alerts,
    windowMs: config.live.windowSeconds * 1000,
    pollMs: config.serve.pollMs,
    intervalMs: config.source.intervalMs,
    querySeries: config.serve.querySeries,
    queryPoints: config.serve.queryPoints,
    retentionPolicy: config.influxdb.retentionPolicy,
    logger: logger.child({ live: 'influxdb' }),
  });
  return {
    feed,
    says: `live fleet from InfluxDB ${target} (gpu_metrics, polled every ${config.serve.pollMs / 1000} s, serve.live ${mode})`,
  };
}
