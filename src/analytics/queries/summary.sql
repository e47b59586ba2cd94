-- summary: the fleet's day in one row (also written as summary.json).
--
-- gpus: GPUs (UUIDs) seen; sample_count, energy_kwh, load_avg_percent (over every sample),
-- temperature_max_celsius, temperature_spikes: the fleet row of daily_stats; wasted_gpu_hours: the fleet row
-- of idle_time. busiest_*: the GPU with the highest average load; hottest_*: the GPU with the highest
-- temperature; ties go to the smaller UUID.
-- The hosts' day, from host_daily_stats: hosts (hosts with host readings), cpu_temperature_max_celsius,
-- cpu_temperature_spikes and alerts_high_cpu_temperature (its fleet row; NULL on a day without host readings).
WITH fleet AS (
  SELECT * FROM daily_stats WHERE scope = 'fleet'
),
idle AS (
  SELECT wasted_gpu_hours FROM idle_time WHERE scope = 'fleet'
),
gpu_count AS (
  SELECT count(*) AS gpus FROM daily_stats WHERE scope = 'gpu'
),
busiest AS (
  SELECT host, gpu_index, uuid, load_avg_percent
  FROM daily_stats
  WHERE scope = 'gpu'
  ORDER BY load_avg_percent DESC NULLS LAST, uuid
  LIMIT 1
),
hottest AS (
  SELECT host, gpu_index, uuid, temperature_max_celsius
  FROM daily_stats
  WHERE scope = 'gpu'
  ORDER BY temperature_max_celsius DESC NULLS LAST, uuid
  LIMIT 1
)
SELECT
  gpu_count.gpus,
  fleet.sample_count,
  fleet.energy_kwh,
  fleet.load_avg_percent,
  fleet.temperature_max_celsius,
  fleet.alerts_temperature_spike AS temperature_spikes,
  idle.wasted_gpu_hours,
  busiest.uuid AS busiest_uuid,
  busiest.host AS busiest_host,
  busiest.gpu_index AS busiest_gpu_index,
  busiest.load_avg_percent AS busiest_load_avg_percent,
  hottest.uuid AS hottest_uuid,
  hottest.host AS hottest_host,
  hottest.gpu_index AS hottest_gpu_index,
  hottest.temperature_max_celsius AS hottest_temperature_max_celsius,
  (SELECT count(*) FROM host_daily_stats WHERE scope = 'host') AS hosts,
  (SELECT cpu_temperature_max_celsius FROM host_daily_stats WHERE scope = 'fleet') AS cpu_temperature_max_celsius,
  (SELECT alerts_cpu_temperature_spike FROM host_daily_stats WHERE scope = 'fleet') AS cpu_temperature_spikes,
  (SELECT alerts_high_cpu_temperature FROM host_daily_stats WHERE scope = 'fleet') AS alerts_high_cpu_temperature
FROM fleet
CROSS JOIN idle
CROSS JOIN gpu_count
CROSS JOIN busiest
CROSS JOIN hottest
