import type { Config } from '../config/schema.ts';
import type { GpuSample } from '../metrics/sample.ts';

export const ALERT_RULES = ['high_temperature', 'high_load', 'high_power', 'temperature_spike'] as const;
export type AlertRule = (typeof ALERT_RULES)[number];

/** One alert raised by one sample. */
export interface AlertEvent {
  ts: number;
  rule: AlertRule;
  host: string;
  gpu_index: number;
  uuid: string;
  /** The value that crossed the threshold (°C, %, % of power limit, or °C of rise). */
  value: number;
  threshold: number;
}

export type AlertThresholds = Config['alerts'];

/**
 * Evaluates the alert rules on a stream of samples. Keeps the previous sample of each GPU (by UUID) to detect
 * spikes; a pair further apart than `maxGapMs` is not compared, and neither is a pair from two GPUs.
 */
export class AlertEvaluator {
  private readonly previous = new Map<string, { ts: number; temp: number | null }>();

  constructor(
    private readonly thresholds: AlertThresholds,
    private readonly maxGapMs: number,
  ) {}

  evaluate(batch: readonly GpuSample[]): AlertEvent[] {
    const events: AlertEvent[] = [];
    for (const s of batch) this.evaluateOne(s, events);
    return events;
  }

  /**
   * Evaluates one sample; pushes its alerts onto `events`. For a caller that handles each sample in one pass
   * with other stages (the InfluxDB stream sink).
   */
  evaluateOne(s: GpuSample, events: AlertEvent[]): void {
    const t = this.thresholds;
    const temp = s.gpu_temperature_celsius;
    if (temp !== null && temp >= t.highTempCelsius) {
      events.push(event(s, 'high_temperature', temp, t.highTempCelsius));
    }
    const load = s.gpu_utilization_percent;
    if (load !== null && load >= t.highLoadPercent) {
      events.push(event(s, 'high_load', load, t.highLoadPercent));
    }
    const power = s.gpu_power_draw_watts;
    const limit = s.gpu_power_limit_watts;
    if (power !== null && limit !== null && limit > 0) {
      const percent = (100 * power) / limit;
      if (percent >= t.highPowerPercent) {
        events.push(event(s, 'high_power', percent, t.highPowerPercent));
      }
    }
    const prev = this.previous.get(s.uuid);
    if (prev === undefined) {
      this.previous.set(s.uuid, { ts: s.ts, temp });
      return;
    }
    if (prev.temp !== null && temp !== null && s.ts > prev.ts && s.ts - prev.ts <= this.maxGapMs) {
      const rise = temp - prev.temp;
      if (rise > t.tempSpikeCelsius) {
        events.push(event(s, 'temperature_spike', rise, t.tempSpikeCelsius));
      }
    }
    if (s.ts >= prev.ts) {
      prev.ts = s.ts;
      prev.temp = temp;
    }
  }
}

function event(s: GpuSample, rule: AlertRule, value: number, threshold: number): AlertEvent {
  return { ts: s.ts, host: s.host, gpu_index: s.gpu_index, uuid: s.uuid, rule, value, threshold };
}
