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
--
-- How, at the least cost (docs/decisions/0008-daily-analytics-cost.md): one aggregate pass per GPU; the fleet's
-- figures merged from the GPUs' (counts, minima and maxima exactly; the mean from each GPU's mean and count; the
-- standard deviation from each GPU's mean, deviation and count: the parallel algorithm of Chan et al., as the
-- engines merge their own partial states). An exact percentile aggregate holds every value of its group, so it
-- is kept for what has no small set of values: each GPU's power, computed apart over parts of the GPUs
-- (shared/gpu_power_percentiles.sql) to bound what it holds at once. The others come from counts of each distinct
-- value (load and temperature per GPU and for the fleet, power for the fleet: a few hundred to some tens of
-- thousands of values, however many samples), ranked by cumulative count: the value at 0-based rank
-- position = (count - 1) * p and the next, interpolated linearly between them as the percentile aggregates
-- do, to the same bits.
WITH gpu_stats AS (
  SELECT
    uuid,
    count(*) AS sample_count,
    count(gpu_temperature_celsius) AS temperature_count,
    avg(gpu_temperature_celsius) AS temperature_avg_celsius,
    min(gpu_temperature_celsius) AS temperature_min_celsius,
    max(gpu_temperature_celsius) AS temperature_max_celsius,
    stddev_samp(gpu_temperature_celsius) AS temperature_stddev_celsius,
    count(gpu_utilization_percent) AS load_count,
    avg(gpu_utilization_percent) AS load_avg_percent,
    max(gpu_utilization_percent) AS load_max_percent,
    count(gpu_power_draw_watts) AS power_count,
    avg(gpu_power_draw_watts) AS power_avg_watts,
    min(gpu_power_draw_watts) AS power_min_watts,
    max(gpu_power_draw_watts) AS power_max_watts,
    count(gpu_memory_used_bytes) AS memory_used_count,
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
  GROUP BY uuid
),
fleet_means AS (
  SELECT
    sum(temperature_avg_celsius * temperature_count) / nullif(sum(temperature_count), 0) AS temperature_avg_celsius,
    sum(load_avg_percent * load_count) / nullif(sum(load_count), 0) AS load_avg_percent,
    sum(power_avg_watts * power_count) / nullif(sum(power_count), 0) AS power_avg_watts,
    sum(memory_used_avg_bytes * memory_used_count) / nullif(sum(memory_used_count), 0) AS memory_used_avg_bytes
  FROM gpu_stats
),
fleet_stats AS (
  SELECT
    CAST(NULL AS STRING) AS uuid,
    CAST(sum(s.sample_count) AS BIGINT) AS sample_count,
    max(m.temperature_avg_celsius) AS temperature_avg_celsius,
    min(s.temperature_min_celsius) AS temperature_min_celsius,
    max(s.temperature_max_celsius) AS temperature_max_celsius,
    CASE WHEN sum(s.temperature_count) >= 2 THEN sqrt(
      (
        sum(coalesce(s.temperature_stddev_celsius * s.temperature_stddev_celsius * (s.temperature_count - 1), 0))
        + sum(
          s.temperature_count
          * (s.temperature_avg_celsius - m.temperature_avg_celsius)
          * (s.temperature_avg_celsius - m.temperature_avg_celsius)
        )
      ) / (sum(s.temperature_count) - 1)
    ) END AS temperature_stddev_celsius,
    max(m.load_avg_percent) AS load_avg_percent,
    max(s.load_max_percent) AS load_max_percent,
    max(m.power_avg_watts) AS power_avg_watts,
    min(s.power_min_watts) AS power_min_watts,
    max(s.power_max_watts) AS power_max_watts,
    max(m.memory_used_avg_bytes) AS memory_used_avg_bytes,
    max(s.memory_used_max_bytes) AS memory_used_max_bytes,
    CAST(sum(s.alerts_high_temperature) AS BIGINT) AS alerts_high_temperature,
    CAST(sum(s.alerts_high_load) AS BIGINT) AS alerts_high_load,
    CAST(sum(s.alerts_high_power) AS BIGINT) AS alerts_high_power
  FROM gpu_stats s
  CROSS JOIN fleet_means m
),
-- Counts of each value: per GPU of (load, temperature) together, for the fleet of power.
value_counts AS (
  SELECT
    uuid,
    gpu_utilization_percent AS load,
    gpu_temperature_celsius AS temperature,
    gpu_power_draw_watts AS power,
    grouping(gpu_power_draw_watts) AS is_gpu,
    count(*) AS n
  FROM samples
  WHERE uuid IS NOT NULL
  GROUP BY GROUPING SETS ((uuid, gpu_utilization_percent, gpu_temperature_celsius), (gpu_power_draw_watts))
),
-- metric 1: load, 2: temperature, 3: power; uuid NULL: the fleet.
histograms AS (
  SELECT 1 AS metric, uuid, load AS value, sum(n) AS n
  FROM value_counts
  WHERE is_gpu = 1 AND load IS NOT NULL
  GROUP BY GROUPING SETS ((uuid, load), (load))
  UNION ALL
  SELECT 2 AS metric, uuid, temperature AS value, sum(n) AS n
  FROM value_counts
  WHERE is_gpu = 1 AND temperature IS NOT NULL
  GROUP BY GROUPING SETS ((uuid, temperature), (temperature))
  UNION ALL
  SELECT 3 AS metric, uuid, power AS value, n
  FROM value_counts
  WHERE is_gpu = 0 AND power IS NOT NULL
),
ranked AS (
  SELECT
    metric,
    uuid,
    value,
    sum(n) OVER (PARTITION BY metric, uuid ORDER BY value ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS upto,
    sum(n) OVER (PARTITION BY metric, uuid) AS total
  FROM histograms
),
positions AS (
  SELECT c.metric, c.uuid, q.k, (c.total - 1) * q.p AS position
  FROM (SELECT DISTINCT metric, uuid, total FROM ranked) c
  CROSS JOIN (
    SELECT 1 AS k, CAST(0.5 AS DOUBLE) AS p
    UNION ALL SELECT 2 AS k, CAST(0.95 AS DOUBLE) AS p
    UNION ALL SELECT 3 AS k, CAST(0.99 AS DOUBLE) AS p
  ) q
),
bounds AS (
  SELECT
    p.metric,
    p.uuid,
    p.k,
    p.position - floor(p.position) AS fraction,
    min(CASE WHEN r.upto > floor(p.position) THEN r.value END) AS lower_value,
    min(CASE WHEN r.upto > ceil(p.position) THEN r.value END) AS higher_value
  FROM positions p
  JOIN ranked r ON r.metric = p.metric AND coalesce(r.uuid, '') = coalesce(p.uuid, '')
  GROUP BY p.metric, p.uuid, p.k, p.position
),
interpolated AS (
  SELECT
    metric,
    uuid,
    k,
    CASE
      WHEN lower_value = higher_value THEN lower_value
      ELSE lower_value * (1 - fraction) + higher_value * fraction
    END AS value
  FROM bounds
),
percentiles AS (
  SELECT
    uuid,
    max(CASE WHEN metric = 1 AND k = 1 THEN value END) AS load_p50_percent,
    max(CASE WHEN metric = 1 AND k = 2 THEN value END) AS load_p95_percent,
    max(CASE WHEN metric = 1 AND k = 3 THEN value END) AS load_p99_percent,
    max(CASE WHEN metric = 2 AND k = 1 THEN value END) AS temperature_p50_celsius,
    max(CASE WHEN metric = 2 AND k = 2 THEN value END) AS temperature_p95_celsius,
    max(CASE WHEN metric = 2 AND k = 3 THEN value END) AS temperature_p99_celsius,
    max(CASE WHEN metric = 3 AND k = 1 THEN value END) AS power_p50_watts,
    max(CASE WHEN metric = 3 AND k = 2 THEN value END) AS power_p95_watts,
    max(CASE WHEN metric = 3 AND k = 3 THEN value END) AS power_p99_watts
  FROM interpolated
  GROUP BY uuid
),
sample_stats AS (
  SELECT
    0 AS is_fleet,
    s.uuid,
    s.sample_count,
    s.temperature_avg_celsius,
    s.temperature_min_celsius,
    s.temperature_max_celsius,
    s.temperature_stddev_celsius,
    s.load_avg_percent,
    s.load_max_percent,
    s.power_avg_watts,
    s.power_min_watts,
    s.power_max_watts,
    s.memory_used_avg_bytes,
    s.memory_used_max_bytes,
    s.alerts_high_temperature,
    s.alerts_high_load,
    s.alerts_high_power,
    p.load_p50_percent,
    p.load_p95_percent,
    p.load_p99_percent,
    p.temperature_p50_celsius,
    p.temperature_p95_celsius,
    p.temperature_p99_celsius,
    {{item1(w.power_percentiles)}} AS power_p50_watts,
    {{item2(w.power_percentiles)}} AS power_p95_watts,
    {{item3(w.power_percentiles)}} AS power_p99_watts
  FROM gpu_stats s
  LEFT JOIN percentiles p ON p.uuid = s.uuid
  LEFT JOIN gpu_power_percentiles w ON w.uuid = s.uuid
  UNION ALL
  SELECT
    1 AS is_fleet,
    f.uuid,
    f.sample_count,
    f.temperature_avg_celsius,
    f.temperature_min_celsius,
    f.temperature_max_celsius,
    f.temperature_stddev_celsius,
    f.load_avg_percent,
    f.load_max_percent,
    f.power_avg_watts,
    f.power_min_watts,
    f.power_max_watts,
    f.memory_used_avg_bytes,
    f.memory_used_max_bytes,
    f.alerts_high_temperature,
    f.alerts_high_load,
    f.alerts_high_power,
    p.load_p50_percent,
    p.load_p95_percent,
    p.load_p99_percent,
    p.temperature_p50_celsius,
    p.temperature_p95_celsius,
    p.temperature_p99_celsius,
    p.power_p50_watts,
    p.power_p95_watts,
    p.power_p99_watts
  FROM fleet_stats f
  LEFT JOIN percentiles p ON p.uuid IS NULL
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
  s.load_p50_percent,
  s.load_p95_percent,
  s.load_p99_percent,
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
  s.temperature_p50_celsius,
  s.temperature_p95_celsius,
  s.temperature_p99_celsius,
  s.power_p50_watts,
  s.power_p95_watts,
  s.power_p99_watts,
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
