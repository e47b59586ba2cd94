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
  /** The GPU's model: dashboards filter alerts by it as they filter samples. */
  model: string;
  /** The value that crossed the threshold (°C, %, % of power limit, or °C of rise). */
  value: number;
  threshold: number;
}

export type AlertThresholds = Config['alerts'];

/**
 * A rule's stretch of firing on one GPU (an episode): from its first firing sample to its last, with the worst
 * value it saw (the highest; for a spike, the largest rise).
 */
export interface AlertEpisode {
  rule: AlertRule;
  host: string;
  gpu_index: number;
  uuid: string;
  start: number;
  /** The last firing sample so far (of an ongoing episode: the latest one). */
  end: number;
  peak: number;
  threshold: number;
  /** False while the rule still fires. */
  ended: boolean;
}

/** How often an alert of one GPU's rule is reported while the rule keeps firing. */
export interface AlertReporting {
  /**
   * 0: every sample that fires reports it (the live page's flags follow the samples). Above 0: a rule that
   * starts to fire is reported at once, then again at most once every `repeatMs` while it keeps firing.
   */
  repeatMs: number;
  /** Told of each episode that ends (a sample on which the rule does not fire, or a gap longer than maxGapMs). */
  onEpisodeEnd?: (episode: AlertEpisode) => void;
}

/** A rule firing on one GPU: when it started and was last seen firing, when it was last reported, its peak. */
interface Episode {
  start: number;
  lastSeen: number;
  lastReported: number;
  peak: number;
  threshold: number;
  host: string;
  gpu_index: number;
}

/** What the evaluator keeps per GPU: its previous temperature (for spikes) and the rules firing. */
interface GpuState {
  ts: number;
  temp: number | null;
  firing: Map<AlertRule, Episode>;
}

/**
 * Evaluates the alert rules on a stream of samples. Keeps the previous sample of each GPU (by UUID) to detect
 * spikes; a pair further apart than `maxGapMs` is not compared, and neither is a pair from two GPUs.
 *
 * With `repeatMs` above 0, a rule's alerts on one GPU form episodes: the first sample that fires reports it,
 * the next ones that fire do not until `repeatMs` has passed since the last report, and a sample of that GPU
 * on which the rule does not fire (or a gap longer than `maxGapMs`) ends the episode. A rule whose inputs are
 * null on a sample neither fires nor ends its episode.
 */
export class AlertEvaluator {
  private readonly gpus = new Map<string, GpuState>();
  private readonly repeatMs: number;
  private readonly onEpisodeEnd: ((episode: AlertEpisode) => void) | undefined;

  constructor(
    private readonly thresholds: AlertThresholds,
    private readonly maxGapMs: number,
    reporting: AlertReporting = { repeatMs: 0 },
  ) {
    this.repeatMs = reporting.repeatMs;
    this.onEpisodeEnd = reporting.onEpisodeEnd;
  }

  /** The episodes firing now, on every GPU. */
  openEpisodes(): AlertEpisode[] {
    const open: AlertEpisode[] = [];
    for (const [uuid, gpu] of this.gpus) {
      for (const [rule, e] of gpu.firing) open.push(episodeOf(uuid, rule, e, false));
    }
    return open;
  }

  evaluate(batch: readonly GpuSample[]): AlertEvent[] {
    const events: AlertEvent[] = [];
    for (const s of batch) this.evaluateOne(s, events);
    return events;
  }

  /**
   * Evaluates one sample; pushes the alerts it reports onto `events`. For a caller that handles each sample in
   * one pass with other stages (the InfluxDB stream sink).
   */
  evaluateOne(s: GpuSample, events: AlertEvent[]): void {
    const t = this.thresholds;
    let gpu = this.gpus.get(s.uuid);
    // The GPU's previous sample, for spikes (plain locals: this runs for every sample a consumer reads).
    const hasPrevious = gpu !== undefined;
    const previousTs = gpu?.ts ?? 0;
    const previousTemp = gpu?.temp ?? null;
    if (gpu === undefined) {
      gpu = { ts: s.ts, temp: s.gpu_temperature_celsius, firing: new Map() };
      this.gpus.set(s.uuid, gpu);
    }
    const temp = s.gpu_temperature_celsius;
    if (temp !== null)
      this.observe(gpu, s, 'high_temperature', temp, t.highTempCelsius, temp >= t.highTempCelsius, events);
    const load = s.gpu_utilization_percent;
    if (load !== null)
      this.observe(gpu, s, 'high_load', load, t.highLoadPercent, load >= t.highLoadPercent, events);
    const power = s.gpu_power_draw_watts;
    const limit = s.gpu_power_limit_watts;
    if (power !== null && limit !== null && limit > 0) {
      const percent = (100 * power) / limit;
      this.observe(gpu, s, 'high_power', percent, t.highPowerPercent, percent >= t.highPowerPercent, events);
    }
    if (!hasPrevious) return;
    if (previousTemp !== null && temp !== null && s.ts > previousTs && s.ts - previousTs <= this.maxGapMs) {
      const rise = temp - previousTemp;
      this.observe(gpu, s, 'temperature_spike', rise, t.tempSpikeCelsius, rise > t.tempSpikeCelsius, events);
    }
    if (s.ts >= gpu.ts) {
      gpu.ts = s.ts;
      gpu.temp = temp;
    }
  }

  /** One rule on one sample: reports it when it fires and starts or repeats an episode. */
  private observe(
    gpu: GpuState,
    s: GpuSample,
    rule: AlertRule,
    value: number,
    threshold: number,
    fires: boolean,
    events: AlertEvent[],
  ): void {
    const episode = gpu.firing.get(rule);
    if (!fires) {
      // An older sample arriving late does not end what later samples saw firing.
      if (episode !== undefined && s.ts >= episode.lastSeen) {
        gpu.firing.delete(rule);
        this.onEpisodeEnd?.(episodeOf(s.uuid, rule, episode, true));
      }
      return;
    }
    if (episode === undefined || s.ts - episode.lastSeen > this.maxGapMs) {
      if (episode !== undefined) this.onEpisodeEnd?.(episodeOf(s.uuid, rule, episode, true));
      gpu.firing.set(rule, {
        start: s.ts,
        lastSeen: s.ts,
        lastReported: s.ts,
        peak: value,
        threshold,
        host: s.host,
        gpu_index: s.gpu_index,
      });
      events.push(event(s, rule, value, threshold));
      return;
    }
    if (value > episode.peak) episode.peak = value;
    if (this.repeatMs === 0 || s.ts - episode.lastReported >= this.repeatMs) {
      episode.lastReported = Math.max(episode.lastReported, s.ts);
      events.push(event(s, rule, value, threshold));
    }
    if (s.ts > episode.lastSeen) episode.lastSeen = s.ts;
  }
}

function episodeOf(uuid: string, rule: AlertRule, e: Episode, ended: boolean): AlertEpisode {
  const { host, gpu_index, start, peak, threshold } = e;
  return { rule, host, gpu_index, uuid, start, end: e.lastSeen, peak, threshold, ended };
}

function event(s: GpuSample, rule: AlertRule, value: number, threshold: number): AlertEvent {
  return {
    ts: s.ts,
    host: s.host,
    gpu_index: s.gpu_index,
    uuid: s.uuid,
    model: s.model,
    rule,
    value,
    threshold,
  };
}
