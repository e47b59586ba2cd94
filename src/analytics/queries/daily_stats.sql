-- daily_stats: the day of each GPU in figures, and of the fleet.
--
-- Over the samples (nulls, metrics not read, are left out of each figure):
-- - temperature avg/min/max/stddev (sample standard deviation), load avg/max, power avg/min/max, memory used
--   avg/max, sample_count.
-- - p50/p95/p99 of load, temperature and power (continuous percentiles, linear between the closest ranks).
-- - alert counts, the rules of the live alerts (src/pipeline/alerts.ts), one per sample that fires:
--   alerts_high_temperature: temperature >= alerts.highTempCelsius;
--   alerts_high_load: load >= alerts.highLoadPercent;
--   alerts_high_power: power limit > 0 and 100 * power / limit >= alerts.highPowerPercent;
--   alerts_temperature_spike: the rows of temperature_spikes.
-- Over the valid intervals between consecutive samples (see gpu_intervals):
-- - energy_kwh: the trapezoid integral of power over time, / 3.6e6 J per kWh; a gap contributes nothing.
-- - throttle_measured_seconds, throttled_seconds and throttled_{power,thermal,hw_slowdown,sync_boost}_seconds:
--   the time whose opening sample reports the throttle reasons, and any / each kind of throttling, as
--   gpu_intervals counts it (0 when none).
--
-- Rows: scope 'gpu', one per GPU (UUID), and scope 'fleet' (identity NULL), computed over all the fleet's
-- samples (its percentiles are over every sample, not an average of percentiles).
WITH sample_stats AS (
  SELECT
    uuid,
    grouping(uuid) AS is_fleet,
    count(*) AS sample_count,
    avg(gpu_temperature_celsius) AS temperature_avg_celsius,
    min(gpu_temperature_celsius) AS temperature_min_celsius,
    max(gpu_temperature_celsius) AS temperature_max_celsius,
    stddev_samp(gpu_temperature_celsius) AS temperature_stddev_celsius,
    avg(gpu_utilization_percent) AS load_avg_percent,
    max(gpu_utilization_percent) AS load_max_percent,
    -- One percentile aggregate per metric, giving its p50, p95 and p99 (the costliest figures of the job).
    {{p50_p95_p99(gpu_utilization_percent)}} AS load_percentiles,
    {{p50_p95_p99(gpu_temperature_celsius)}} AS temperature_percentiles,
    {{p50_p95_p99(gpu_power_draw_watts)}} AS power_percentiles,
    avg(gpu_power_draw_watts) AS power_avg_watts,
    min(gpu_power_draw_watts) AS power_min_watts,
    max(gpu_power_draw_watts) AS power_max_watts,
    avg(gpu_memory_used_bytes) AS memory_used_avg_bytes,
    max(gpu_memory_used_bytes) AS memory_used_max_bytes,
    count(CASE WHEN gpu_temperature_celsius >= {{alerts.highTempCelsius}} THEN 1 END) AS alerts_high_temperature,
    count(CASE WHEN gpu_utilization_percent >= {{alerts.highLoadPercent}} THEN 1 END) AS alerts_high_load,
    count(
      CASE WHEN gpu_power_limit_watts > 0 THEN
        CASE WHEN 100 * gpu_power_draw_watts / gpu_power_limit_watts >= {{alerts.highPowerPercent}} THEN 1 END
      END
    ) AS alerts_high_power
  FROM samples
  WHERE uuid IS NOT NULL
  GROUP BY GROUPING SETS ((uuid), ())
),
per_interval AS (
  SELECT
    g.uuid,
    i.energy_joules,
    i.spike_t_us,
    i.throttle_measured_seconds,
    i.throttled_seconds,
    i.throttled_power_seconds,
    i.throttled_thermal_seconds,
    i.throttled_hw_slowdown_seconds,
    i.throttled_sync_boost_seconds
  FROM gpu_intervals i
  JOIN gpus g ON g.gpu_key = i.gpu_key
),
interval_stats AS (
  SELECT
    uuid,
    coalesce(sum(energy_joules), 0) / 3.6e6 AS energy_kwh,
    count(spike_t_us) AS alerts_temperature_spike,
    coalesce(sum(throttle_measured_seconds), 0) AS throttle_measured_seconds,
    coalesce(sum(throttled_seconds), 0) AS throttled_seconds,
    coalesce(sum(throttled_power_seconds), 0) AS throttled_power_seconds,
    coalesce(sum(throttled_thermal_seconds), 0) AS throttled_thermal_seconds,
    coalesce(sum(throttled_hw_slowdown_seconds), 0) AS throttled_hw_slowdown_seconds,
    coalesce(sum(throttled_sync_boost_seconds), 0) AS throttled_sync_boost_seconds
  FROM per_interval
  GROUP BY GROUPING SETS ((uuid), ())
)
SELECT
  CASE WHEN s.is_fleet = 1 THEN 'fleet' ELSE 'gpu' END AS scope,
  g.host,
  g.gpu_index,
  s.uuid,
  g.model,
  s.sample_count,
  s.temperature_avg_celsius,
  s.temperature_min_celsius,
  s.temperature_max_celsius,
  s.temperature_stddev_celsius,
  s.load_avg_percent,
  s.load_max_percent,
  {{item1(s.load_percentiles)}} AS load_p50_percent,
  {{item2(s.load_percentiles)}} AS load_p95_percent,
  {{item3(s.load_percentiles)}} AS load_p99_percent,
  s.power_avg_watts,
  s.power_min_watts,
  s.power_max_watts,
  i.energy_kwh,
  s.memory_used_avg_bytes,
  s.memory_used_max_bytes,
  s.alerts_high_temperature,
  s.alerts_high_load,
  s.alerts_high_power,
  i.alerts_temperature_spike,
  {{item1(s.temperature_percentiles)}} AS temperature_p50_celsius,
  {{item2(s.temperature_percentiles)}} AS temperature_p95_celsius,
  {{item3(s.temperature_percentiles)}} AS temperature_p99_celsius,
  {{item1(s.power_percentiles)}} AS power_p50_watts,
  {{item2(s.power_percentiles)}} AS power_p95_watts,
  {{item3(s.power_percentiles)}} AS power_p99_watts,
  i.throttle_measured_seconds,
  i.throttled_seconds,
  i.throttled_power_seconds,
  i.throttled_thermal_seconds,
  i.throttled_hw_slowdown_seconds,
  i.throttled_sync_boost_seconds
FROM sample_stats s
-- The fleet rows are the ones whose uuid is NULL: every sample has a UUID.
JOIN interval_stats i ON coalesce(i.uuid, '') = coalesce(s.uuid, '')
LEFT JOIN gpus g ON g.uuid = s.uuid
ORDER BY scope, g.host, g.gpu_index, s.uuid
