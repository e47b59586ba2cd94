-- hourly_patterns: the day by hour of day (0..23, UTC), per GPU and for the fleet.
--
-- Per hour: load_avg_percent, temperature_avg_celsius, power_avg_watts (averages of the samples in the hour,
-- nulls left out) and sample_count. Rows: scope 'gpu', one per GPU and hour with samples, and scope
-- 'fleet' (identity NULL), one per hour over every GPU's samples.
WITH hourly AS (
  SELECT
    uuid,
    {{utc_hour(ts)}} AS hour_utc,
    gpu_utilization_percent,
    gpu_temperature_celsius,
    gpu_power_draw_watts
  FROM samples
  WHERE uuid IS NOT NULL
),
grouped AS (
  SELECT
    hour_utc,
    uuid,
    grouping(uuid) AS is_fleet,
    avg(gpu_utilization_percent) AS load_avg_percent,
    avg(gpu_temperature_celsius) AS temperature_avg_celsius,
    avg(gpu_power_draw_watts) AS power_avg_watts,
    count(*) AS sample_count
  FROM hourly
  GROUP BY GROUPING SETS ((hour_utc, uuid), (hour_utc))
)
SELECT
  CASE WHEN h.is_fleet = 1 THEN 'fleet' ELSE 'gpu' END AS scope,
  h.hour_utc,
  g.host,
  g.gpu_index,
  h.uuid,
  g.model,
  h.load_avg_percent,
  h.temperature_avg_celsius,
  h.power_avg_watts,
  h.sample_count
FROM grouped h
LEFT JOIN gpus g ON g.uuid = h.uuid
ORDER BY scope, h.hour_utc, g.host, g.gpu_index, h.uuid
