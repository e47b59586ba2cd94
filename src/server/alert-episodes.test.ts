import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../config/load.ts';
import type { GpuSample } from '../metrics/sample.ts';
import { AlertEvaluator } from '../pipeline/alerts.ts';
import { LiveState } from '../pipeline/live-state.ts';
import { AlertEpisodeLog } from './alert-episodes.ts';
import type { AlertEpisodesResponse, ApiErrorBody } from './api-types.ts';
import { createApp } from './app.ts';
import { depsOf, sampleOf } from './test-support.ts';

const T0 = Date.parse('2026-02-01T10:00:00Z');
const S = 1000;
const THRESHOLDS = {
  ...loadConfig().alerts,
  highTempCelsius: 85,
  highLoadPercent: 95,
  highPowerPercent: 98,
  tempSpikeCelsius: 15,
};

/** An evaluator reporting to a log, fed `samples` in order; the app serves the log's episodes. */
function appWith(samples: GpuSample[], maxGapMs = 10 * S) {
  const log = new AlertEpisodeLog();
  const evaluator = new AlertEvaluator(THRESHOLDS, maxGapMs, { repeatMs: 0, onEpisodeEnd: log.onEnd });
  log.watch(evaluator);
  evaluator.evaluate(samples);
  return createApp(depsOf(new LiveState(60_000), { episodes: () => log.list() }));
}

const a = (i: number, values: Partial<GpuSample>) => sampleOf('node-a', 0, T0 + i * S, values);
const b = (i: number, values: Partial<GpuSample>) => sampleOf('node-b', 1, T0 + i * S, values);

async function episodes(app: ReturnType<typeof appWith>, query = ''): Promise<AlertEpisodesResponse> {
  const res = await app.request(`/api/alerts/episodes${query}`);
  assert.equal(res.status, 200);
  return (await res.json()) as AlertEpisodesResponse;
}

describe('GET /api/alerts/episodes: one row per stretch of firing, not one per sample', () => {
  const samples = [
    a(0, { gpu_temperature_celsius: 80 }),
    a(1, { gpu_temperature_celsius: 90 }),
    a(2, { gpu_temperature_celsius: 95 }),
    // No temperature read: neither fires nor ends the episode.
    a(3, { gpu_temperature_celsius: null }),
    a(4, { gpu_temperature_celsius: 88 }),
    a(5, { gpu_temperature_celsius: 70 }),
    b(0, { gpu_utilization_percent: 99 }),
    b(1, { gpu_utilization_percent: 100 }),
    b(2, { gpu_utilization_percent: 97 }),
  ];

  test('an ended episode has its start, end and peak; one still firing is ongoing, latest start first', async () => {
    const body = await episodes(appWith(samples));
    assert.equal(body.total, 2);
    assert.deepEqual(body.hosts, ['node-a', 'node-b']);
    const [temp, load] = [...body.episodes].sort((x, y) => x.rule.localeCompare(y.rule)).reverse();
    assert.deepEqual(temp, {
      rule: 'high_temperature',
      host: 'node-a',
      gpu_index: 0,
      uuid: 'GPU-node-a-0',
      start: T0 + S,
      end: T0 + 4 * S,
      peak: 95,
      threshold: 85,
      ended: true,
    });
    assert.deepEqual(
      { start: load?.start, end: load?.end, peak: load?.peak, ended: load?.ended },
      { start: T0, end: T0 + 2 * S, peak: 100, ended: false },
    );
    assert.deepEqual(
      body.episodes.map((e) => e.rule),
      ['high_temperature', 'high_load'],
      'the later start first',
    );
  });

  test('a gap longer than the longest gap ends an episode; the next firing sample starts another', async () => {
    const body = await episodes(
      appWith([
        a(0, { gpu_temperature_celsius: 90 }),
        a(1, { gpu_temperature_celsius: 91 }),
        a(30, { gpu_temperature_celsius: 92 }),
      ]),
    );
    assert.deepEqual(
      body.episodes.map((e) => [e.start - T0, e.end - T0, e.ended]),
      [
        [30 * S, 30 * S, false],
        [0, S, true],
      ],
    );
  });

  test('filters by rule, host, GPU and state, and limits the rows but not the total', async () => {
    const app = appWith(samples);
    assert.deepEqual(
      (await episodes(app, '?rule=high_load')).episodes.map((e) => e.uuid),
      ['GPU-node-b-1'],
    );
    assert.deepEqual(
      (await episodes(app, '?host=node-a')).episodes.map((e) => e.rule),
      ['high_temperature'],
    );
    assert.deepEqual(
      (await episodes(app, '?uuid=GPU-node-b-1&state=ongoing')).episodes.map((e) => e.rule),
      ['high_load'],
    );
    assert.equal((await episodes(app, '?state=ended&rule=high_load')).total, 0);
    const limited = await episodes(app, '?limit=1');
    assert.equal(limited.episodes.length, 1);
    assert.equal(limited.total, 2);
  });

  test('a bad filter is 400 naming it; a server without a live source has no episodes (404)', async () => {
    const app = appWith(samples);
    for (const [query, message] of [
      [
        '?rule=hot',
        /query parameter rule must be one of high_temperature, high_load, high_power, temperature_spike, got "hot"/,
      ],
      ['?state=open', /query parameter state must be ongoing or ended, got "open"/],
      ['?limit=0', /query parameter limit must be an integer 1\.\.1000, got "0"/],
    ] as const) {
      const res = await app.request(`/api/alerts/episodes${query}`);
      assert.equal(res.status, 400);
      assert.match(((await res.json()) as ApiErrorBody).error.message, message);
    }
    const none = await createApp(depsOf(new LiveState(60_000))).request('/api/alerts/episodes');
    assert.equal(none.status, 404);
  });

  test('the log keeps the latest ended episodes up to its capacity', () => {
    const log = new AlertEpisodeLog(2);
    for (let i = 0; i < 3; i++) {
      log.onEnd({
        rule: 'high_load',
        host: 'h',
        gpu_index: 0,
        uuid: 'G',
        start: i,
        end: i,
        peak: 99,
        threshold: 95,
        ended: true,
      });
    }
    assert.deepEqual(
      log.list().map((e) => e.start),
      [2, 1],
    );
  });
});
