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
