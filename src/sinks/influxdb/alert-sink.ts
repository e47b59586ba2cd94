import { encodePoint, type Point, seriesKeyOf } from '../../metrics/line-protocol.ts';
import type { AlertEvent } from '../../pipeline/alerts.ts';

export const ALERT_MEASUREMENT = 'gpu_alerts';

/**
 * One alert as a point of `gpu_alerts`: tags host, gpu, uuid, model (as on gpu_metrics, so that the dashboards'
 * Model variable filters alerts too), rule; fields value and threshold (floats, in the rule's unit); timestamp =
 * the sample's. Each rule reports at most once per sample, so a replayed alert
 * overwrites itself.
 */
export function alertPoint(event: AlertEvent): Point {
  return {
    measurement: ALERT_MEASUREMENT,
    tags: {
      host: event.host,
      gpu: String(event.gpu_index),
      uuid: event.uuid,
      model: event.model,
      rule: event.rule,
    },
    fields: {
      value: { type: 'float', value: event.value },
      threshold: { type: 'float', value: event.threshold },
    },
    ts: event.ts,
  };
}

/** `gpu_alerts,<tags>` per GPU and rule: the same for every alert of a GPU's rule, so built once (bounded). */
const seriesKeys = new Map<string, string>();

/**
 * One alert as one line: `encodePoint(alertPoint(event))`, built without the intermediate point (with `alerts.repeatSeconds: 0` a
 * consumer writes one alert for every other sample of a busy fleet; a test keeps both equal).
 */
export function alertLine(event: AlertEvent): string | null {
  if (!Number.isFinite(event.value) || !Number.isFinite(event.threshold))
    return encodePoint(alertPoint(event));
  const id = `${event.host}\0${event.gpu_index}\0${event.uuid}\0${event.model}\0${event.rule}`;
  let key = seriesKeys.get(id);
  if (key === undefined) {
    key = seriesKeyOf(ALERT_MEASUREMENT, alertPoint(event).tags);
    if (seriesKeys.size >= 100_000) seriesKeys.clear();
    seriesKeys.set(id, key);
  }
  return `${key} value=${event.value},threshold=${event.threshold} ${Math.trunc(event.ts)}`;
}
