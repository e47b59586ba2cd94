-- hourly_pattern_hours: the mergeable state of hourly_patterns per GPU and hour of day (UTC), over the samples
-- of the hours a run computes (`{{sample_in_hours(ts)}}`: a whole day, one hour of an hourly run, or the hours
-- the night has no valid partial for): each metric's sum and count of known values, and the samples.
--
-- Reads: samples. Kept as a relation for hourly_patterns (the night) or written as the hour's partial.
SELECT
  uuid,
  {{utc_hour(ts)}} AS hour_utc,
  count(*) AS sample_count,
  sum(gpu_utilization_percent) AS load_sum,
  count(gpu_utilization_percent) AS load_n,
  sum(gpu_temperature_celsius) AS temperature_sum,
  count(gpu_temperature_celsius) AS temperature_n,
  sum(gpu_power_draw_watts) AS power_sum,
  count(gpu_power_draw_watts) AS power_n
FROM samples
WHERE uuid IS NOT NULL AND {{sample_in_hours(ts)}}
GROUP BY uuid, {{utc_hour(ts)}}
