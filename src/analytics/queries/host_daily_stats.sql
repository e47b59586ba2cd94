-- host_daily_stats: the day of each host (its CPU and system memory) in figures, and of the fleet.
--
-- Over the host's instants with any host reading (host_samples: each reading counted once however many GPUs
-- the host has; nulls, readings not taken, are left out of each figure):
-- - sample_count: those instants.
-- - CPU temperature avg/min/max/stddev (sample standard deviation) and p50/p95/p99 (continuous percentiles,
--   linear between the closest ranks), in °C.
-- - alerts_high_cpu_temperature: instants with cpu temperature >= alerts.highCpuTempCelsius;
--   alerts_cpu_temperature_spike: the host's rows of host_temperature_spikes.
-- - CPU utilization avg/max/p95 (%).
-- - memory_used_{avg,max}_bytes: system memory in use; memory_total_bytes: the largest installed memory
--   reported; memory_used_{avg,max}_share: used / installed (0..1) over the instants where both are known.
--
-- Rows: scope 'host', one per host, and scope 'fleet' (host NULL) over every host's instants (its
-- percentiles are over all of them; its memory figures are those of a host, the average host and the peak
-- of any host, not sums). A day without host readings (an archive older than these metrics) has no rows.
WITH readings AS (
  SELECT
    host,
    cpu_temperature_celsius,
    cpu_utilization_percent,
    memory_used_bytes,
    memory_total_bytes,
    CASE
      WHEN memory_total_bytes > 0 THEN CAST(memory_used_bytes AS DOUBLE) / memory_total_bytes
    END AS memory_used_share
  FROM host_samples
  WHERE cpu_temperature_celsius IS NOT NULL
    OR cpu_utilization_percent IS NOT NULL
    OR memory_used_bytes IS NOT NULL
    OR memory_total_bytes IS NOT NULL
),
stats AS (
  SELECT
    host,
    grouping(host) AS is_fleet,
    count(*) AS sample_count,
    avg(cpu_temperature_celsius) AS cpu_temperature_avg_celsius,
    min(cpu_temperature_celsius) AS cpu_temperature_min_celsius,
    max(cpu_temperature_celsius) AS cpu_temperature_max_celsius,
    stddev_samp(cpu_temperature_celsius) AS cpu_temperature_stddev_celsius,
    -- One aggregate for the three: each percentile aggregate holds a copy of every value of its group.
    {{p50_p95_p99(cpu_temperature_celsius)}} AS cpu_temperature_percentiles,
    count(
      CASE WHEN cpu_temperature_celsius >= {{alerts.highCpuTempCelsius}} THEN 1 END
    ) AS alerts_high_cpu_temperature,
    avg(cpu_utilization_percent) AS cpu_utilization_avg_percent,
    max(cpu_utilization_percent) AS cpu_utilization_max_percent,
    {{p95(cpu_utilization_percent)}} AS cpu_utilization_p95_percent,
    avg(memory_used_bytes) AS memory_used_avg_bytes,
    max(memory_used_bytes) AS memory_used_max_bytes,
    max(memory_total_bytes) AS memory_total_bytes,
    avg(memory_used_share) AS memory_used_avg_share,
    max(memory_used_share) AS memory_used_max_share
  FROM readings
  GROUP BY GROUPING SETS ((host), ())
),
spikes AS (
  SELECT host, grouping(host) AS is_fleet, count(*) AS spikes
  FROM host_temperature_spikes
  GROUP BY GROUPING SETS ((host), ())
)
SELECT
  CASE WHEN s.is_fleet = 1 THEN 'fleet' ELSE 'host' END AS scope,
  s.host,
  s.sample_count,
  s.cpu_temperature_avg_celsius,
  s.cpu_temperature_min_celsius,
  s.cpu_temperature_max_celsius,
  s.cpu_temperature_stddev_celsius,
  {{item1(s.cpu_temperature_percentiles)}} AS cpu_temperature_p50_celsius,
  {{item2(s.cpu_temperature_percentiles)}} AS cpu_temperature_p95_celsius,
  {{item3(s.cpu_temperature_percentiles)}} AS cpu_temperature_p99_celsius,
  s.alerts_high_cpu_temperature,
  coalesce(k.spikes, 0) AS alerts_cpu_temperature_spike,
  s.cpu_utilization_avg_percent,
  s.cpu_utilization_max_percent,
  s.cpu_utilization_p95_percent,
  s.memory_used_avg_bytes,
  s.memory_used_max_bytes,
  s.memory_total_bytes,
  s.memory_used_avg_share,
  s.memory_used_max_share
FROM stats s
-- An empty input may or may not give a fleet row (engines differ): a day without readings has none here.
LEFT JOIN spikes k ON k.is_fleet = s.is_fleet AND (s.is_fleet = 1 OR k.host = s.host)
WHERE s.sample_count > 0
ORDER BY scope, s.host
