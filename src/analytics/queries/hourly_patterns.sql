-- hourly_patterns: the day by hour of day (0..23, UTC), per GPU and for the fleet.
--
-- Per hour: load_avg_percent, temperature_avg_celsius, power_avg_watts (averages of the samples in the hour,
-- nulls left out) and sample_count. Rows: scope 'gpu', one per GPU and hour with samples, and scope
-- 'fleet' (identity NULL), one per hour over every GPU's samples.
--
-- How: from each GPU's sums and counts per hour (hourly_pattern_hours) of the hours this run computed and of
-- those kept by hourly runs (stored_pattern_hours): an average is the sum of the sums over the sum of the counts.
WITH parts AS (
  SELECT
    uuid, hour_utc, sample_count, load_sum, load_n, temperature_sum, temperature_n, power_sum, power_n
  FROM hourly_pattern_hours
  UNION ALL
  SELECT
    uuid, hour_utc, sample_count, load_sum, load_n, temperature_sum, temperature_n, power_sum, power_n
  FROM stored_pattern_hours
),
grouped AS (
  SELECT
    hour_utc,
    uuid,
    grouping(uuid) AS is_fleet,
    CASE WHEN sum(load_n) > 0 THEN sum(load_sum) / sum(load_n) END AS load_avg_percent,
    CASE WHEN sum(temperature_n) > 0 THEN sum(temperature_sum) / sum(temperature_n) END AS temperature_avg_celsius,
    CASE WHEN sum(power_n) > 0 THEN sum(power_sum) / sum(power_n) END AS power_avg_watts,
    CAST(sum(sample_count) AS BIGINT) AS sample_count
  FROM parts
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
