import { stringify } from 'yaml';
import { CONFIG_FIELDS } from '../config/schema.ts';
import type { AlertRule, AlertThresholds } from '../pipeline/alerts.ts';

/**
 * Prometheus alert rules with the thresholds of gpumon's own alerts (src/pipeline/alerts.ts, config
 * `alerts.*`), written against dcgm-exporter's names: they work on gpumon's /metrics (`prometheus.names` dcgm
 * or both) and on dcgm-exporter alike. deploy/prometheus/gpumon-alerts.rules.yml is this file's output
 * (`npm run docs`); a test fails when the committed file drifts from the config defaults.
 */

/** The thresholds of the config's defaults: the ones the committed rules file carries. */
export function defaultThresholds(): Pick<
  AlertThresholds,
  'highTempCelsius' | 'highLoadPercent' | 'highPowerPercent' | 'tempSpikeCelsius'
> {
  return {
    highTempCelsius: CONFIG_FIELDS['alerts.highTempCelsius'].default,
    highLoadPercent: CONFIG_FIELDS['alerts.highLoadPercent'].default,
    highPowerPercent: CONFIG_FIELDS['alerts.highPowerPercent'].default,
    tempSpikeCelsius: CONFIG_FIELDS['alerts.tempSpikeCelsius'].default,
  };
}

/** How long a level must hold before its alert fires: a level seen on one scrape only is a blip. */
export const SUSTAINED_FOR = '1m';

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

const GPU = 'GPU {{ $labels.gpu }} ({{ $labels.modelName }}, {{ $labels.UUID }}) on {{ $labels.Hostname }}';

function rule(
  alert: string,
  gpumonRule: AlertRule,
  severity: string,
  expr: string,
  sustained: boolean,
  summary: string,
): Rule {
  return {
    alert,
    expr,
    ...(sustained ? { for: SUSTAINED_FOR } : {}),
    labels: { severity, gpumon_rule: gpumonRule },
    annotations: { summary, description: `${GPU}: ${summary}` },
  };
}

/** The rules file (YAML) for these thresholds. */
export function renderAlertRules(t = defaultThresholds()): string {
  const rules: Rule[] = [
    rule(
      'GpuHighTemperature',
      'high_temperature',
      'warning',
      `DCGM_FI_DEV_GPU_TEMP >= ${t.highTempCelsius}`,
      true,
      `GPU temperature {{ $value }} °C, at or above ${t.highTempCelsius} °C for ${SUSTAINED_FOR}`,
    ),
    rule(
      'GpuHighLoad',
      'high_load',
      'info',
      `DCGM_FI_DEV_GPU_UTIL >= ${t.highLoadPercent}`,
      true,
      `GPU utilization {{ $value }} %, at or above ${t.highLoadPercent} % for ${SUSTAINED_FOR}`,
    ),
    rule(
      'GpuHighPower',
      'high_power',
      'warning',
      // gpumon exposes the enforced limit; dcgm-exporter by default the management limit.
      '100 * DCGM_FI_DEV_POWER_USAGE / (DCGM_FI_DEV_ENFORCED_POWER_LIMIT or DCGM_FI_DEV_POWER_MGMT_LIMIT) ' +
        `>= ${t.highPowerPercent}`,
      true,
      `GPU power draw {{ $value }} % of its power limit, at or above ${t.highPowerPercent} % for ${SUSTAINED_FOR}`,
    ),
    rule(
      'GpuTemperatureSpike',
      'temperature_spike',
      'warning',
      // idelta: the difference between the last two samples, as gpumon compares consecutive samples.
      `idelta(DCGM_FI_DEV_GPU_TEMP[2m]) > ${t.tempSpikeCelsius}`,
      false,
      `GPU temperature rose {{ $value }} °C between two samples, more than ${t.tempSpikeCelsius} °C`,
    ),
  ];
  const header = [
    '# Generated from src/metrics/prometheus-rules.ts with the defaults of alerts.* (`npm run docs`).',
    '# Do not edit by hand: a test fails when this file drifts. docs/prometheus.md says how to use it.',
    '',
  ].join('\n');
  return header + stringify({ groups: [{ name: 'gpumon-gpu', rules }] }, { lineWidth: 0 });
}
