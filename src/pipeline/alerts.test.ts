import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../config/load.ts';
import { testSample } from '../testing/samples.ts';
import { AlertEvaluator } from './alerts.ts';

const thresholds = loadConfig().alerts; // 80 °C, 90 %, spike 5 °C, power 95 %
const T0 = Date.UTC(2026, 10, 25, 10);

describe('alert rules', () => {
  it('raise high temperature, load and power at or above their thresholds', () => {
    const evaluator = new AlertEvaluator(thresholds, 60_000);
    const events = evaluator.evaluate([
      testSample({
        ts: T0,
        gpu_temperature_celsius: 80,
        gpu_utilization_percent: 90,
        gpu_power_draw_watts: 665,
        gpu_power_limit_watts: 700,
      }),
      testSample({ ts: T0, gpu_temperature_celsius: 79.9, gpu_utilization_percent: 89.9 }, 1),
    ]);
    assert.deepEqual(events.map((e) => e.rule).sort(), ['high_load', 'high_power', 'high_temperature']);
    assert.equal(events.find((e) => e.rule === 'high_power')?.value, 95);
  });

  it('detect a spike as a rise above the threshold between consecutive samples of one GPU', () => {
    const evaluator = new AlertEvaluator(thresholds, 60_000);
    evaluator.evaluate([testSample({ ts: T0, gpu_temperature_celsius: 50 })]);
    const events = evaluator.evaluate([testSample({ ts: T0 + 1000, gpu_temperature_celsius: 56 })]);
    assert.deepEqual(
      events.map((e) => [e.rule, e.value]),
      [['temperature_spike', 6]],
    );
  });

  it('never pair samples of two GPUs into a spike', () => {
    const evaluator = new AlertEvaluator(thresholds, 60_000);
    const events = evaluator.evaluate([
      testSample({ ts: T0, gpu_temperature_celsius: 40 }, 0),
      testSample({ ts: T0, gpu_temperature_celsius: 70 }, 1),
      testSample({ ts: T0 + 1000, gpu_temperature_celsius: 41 }, 0),
      testSample({ ts: T0 + 1000, gpu_temperature_celsius: 71 }, 1),
    ]);
    assert.deepEqual(events, []);
  });

  it('ignore a rise across a gap longer than the limit, and a rise of exactly the threshold', () => {
    const evaluator = new AlertEvaluator(thresholds, 60_000);
    evaluator.evaluate([testSample({ ts: T0, gpu_temperature_celsius: 50 })]);
    assert.deepEqual(evaluator.evaluate([testSample({ ts: T0 + 61_000, gpu_temperature_celsius: 60 })]), []);
    assert.deepEqual(evaluator.evaluate([testSample({ ts: T0 + 62_000, gpu_temperature_celsius: 65 })]), []);
  });

  it('skip rules whose inputs are null', () => {
    const evaluator = new AlertEvaluator(thresholds, 60_000);
    assert.deepEqual(evaluator.evaluate([testSample({ ts: T0, gpu_power_draw_watts: 900 })]), []);
  });
});

describe('alert episodes (repeatMs above 0, as gpumon consume writes them)', () => {
  /** One GPU at `load` % each second from T0, as [second, load] pairs; the seconds its high-load alerts came. */
  function reportedSeconds(loads: [number, number | null][], repeatMs = 5000): number[] {
    const evaluator = new AlertEvaluator(thresholds, 60_000, { repeatMs });
    const events = evaluator.evaluate(
      loads.map(([second, load]) => testSample({ ts: T0 + second * 1000, gpu_utilization_percent: load })),
    );
    return events.filter((e) => e.rule === 'high_load').map((e) => (e.ts - T0) / 1000);
  }

  it('report a rule when it starts to fire, then once every repeatMs while it keeps firing', () => {
    const seconds = Array.from({ length: 12 }, (_, i): [number, number] => [i, 95]);
    assert.deepEqual(reportedSeconds(seconds), [0, 5, 10]);
  });

  it('report it again at once when it fires after a sample on which it did not', () => {
    assert.deepEqual(
      reportedSeconds([
        [0, 95],
        [1, 95],
        [2, 50],
        [3, 95],
        [4, 95],
      ]),
      [0, 3],
    );
  });

  it('neither fire nor end an episode on a sample whose input is null', () => {
    assert.deepEqual(
      reportedSeconds([
        [0, 95],
        [1, null],
        [2, 95],
      ]),
      [0],
    );
  });

  it('start a new episode after a gap longer than the limit', () => {
    assert.deepEqual(
      reportedSeconds([
        [0, 95],
        [1, 95],
        [62, 95],
      ]),
      [0, 62],
    );
  });

  it('do not let an older sample arriving late end an episode, nor report it', () => {
    assert.deepEqual(
      reportedSeconds([
        [0, 95],
        [2, 95],
        [1, 50],
        [3, 95],
      ]),
      [0],
    );
  });

  it('keep the episodes of each GPU and each rule apart', () => {
    const evaluator = new AlertEvaluator(thresholds, 60_000, { repeatMs: 60_000 });
    const hot = { gpu_temperature_celsius: 85, gpu_utilization_percent: 95 };
    const events = evaluator.evaluate([
      testSample({ ts: T0, ...hot }, 0),
      testSample({ ts: T0, ...hot }, 1),
      testSample({ ts: T0 + 1000, ...hot }, 0),
      testSample({ ts: T0 + 1000, ...hot, gpu_utilization_percent: 10 }, 1),
      testSample({ ts: T0 + 2000, ...hot }, 1),
    ]);
    assert.deepEqual(
      events.map((e) => [e.gpu_index, e.rule, (e.ts - T0) / 1000]),
      [
        [0, 'high_temperature', 0],
        [0, 'high_load', 0],
        [1, 'high_temperature', 0],
        [1, 'high_load', 0],
        [1, 'high_load', 2],
      ],
    );
  });

  it('report each spike of a GPU, since a spike ends with the next sample that does not rise', () => {
    const evaluator = new AlertEvaluator(thresholds, 60_000, { repeatMs: 300_000 });
    const temps = [50, 56, 57, 63, 64];
    const events = evaluator.evaluate(
      temps.map((t, i) => testSample({ ts: T0 + i * 1000, gpu_temperature_celsius: t })),
    );
    assert.deepEqual(
      events.map((e) => [e.rule, (e.ts - T0) / 1000, e.value]),
      [
        ['temperature_spike', 1, 6],
        ['temperature_spike', 3, 6],
      ],
    );
  });

  it('with repeatMs 0, report every sample that fires, as the live page needs', () => {
    assert.deepEqual(
      reportedSeconds(
        [
          [0, 95],
          [1, 95],
          [2, 95],
        ],
        0,
      ),
      [0, 1, 2],
    );
  });
});
