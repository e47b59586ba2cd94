import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../config/load.ts';
import { LiveState } from '../pipeline/live-state.ts';
import { capturingLogger } from '../testing/logger.ts';
import { influxTarget, openLiveFeed } from './open-live-feed.ts';

const NO_INFLUXDB = 'http://127.0.0.1:1';

function configWith(env: Record<string, string>) {
  return loadConfig({ env: { GPUMON_INFLUXDB_URL: NO_INFLUXDB, ...env } });
}

describe('openLiveFeed (serve.live)', () => {
  const { logger } = capturingLogger();

  it('none: no feed, and says the page has the results only', async () => {
    const choice = await openLiveFeed(
      configWith({ GPUMON_SERVE_LIVE: 'none' }),
      new LiveState(60_000),
      logger,
    );
    assert.equal(choice.feed, null);
    assert.match(choice.says, /no live fleet \(serve\.live none\)/);
  });

  it('influxdb: a feed even while InfluxDB is away (it polls on), without asking it at start', async () => {
    const started = Date.now();
    const choice = await openLiveFeed(
      configWith({ GPUMON_SERVE_LIVE: 'influxdb' }),
      new LiveState(60_000),
      logger,
    );
    assert.equal(choice.feed?.name, 'influxdb');
    assert.ok(Date.now() - started < 1000, 'no probe');
    assert.match(
      choice.says,
      /^live fleet from InfluxDB http:\/\/127\.0\.0\.1:1 database gpumon \(gpu_metrics, polled every 2 s/,
    );
    assert.equal(choice.feed?.health().lastPollMs, null);
  });

  it('auto: no feed when InfluxDB does not answer, saying where it looked and what to set', async () => {
    const choice = await openLiveFeed(configWith({}), new LiveState(60_000), logger);
    assert.equal(choice.feed, null);
    assert.match(
      choice.says,
      /serve\.live auto found no InfluxDB at http:\/\/127\.0\.0\.1:1 database gpumon \(.+\); set serve\.live/,
    );
  });

  it('names InfluxDB without the credentials a URL may carry', () => {
    const config = configWith({
      GPUMON_INFLUXDB_URL: 'https://reader:s3cret@influx.example.com:8086/',
      GPUMON_INFLUXDB_RETENTION_POLICY: 'week',
    });
    const target = influxTarget(config.influxdb);
    assert.equal(target, 'https://influx.example.com:8086 database gpumon retention policy week');
    assert.ok(!target.includes('s3cret'));
  });
});
