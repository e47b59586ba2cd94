-- correlations: Pearson's r between temperature, load, power, memory used and SM clock, all 10 pairs, per
-- GPU and for the fleet, in one aggregate pass (corr() of each pair over the samples where both are known).
--
-- corr_<a>_<b> is r of metrics a and b: 1 rises together, -1 one falls as the other rises, 0 unrelated.
-- It is NULL where undefined: fewer than 2 samples, or a metric that did not vary (an idle GPU's constant
-- clock). Rows: scope 'gpu', one per GPU (UUID), and scope 'fleet' (identity NULL), over all the fleet's
-- samples.
--
-- corr_temperature_cpu_temperature: r of the GPU's temperature and its host's CPU temperature
-- (host_cpu_temperature_celsius of the same sample: the host's reading at that instant), NULL where the
-- host's CPU temperature was not read (an archive older than that metric).
--
-- This computes a whole day from its samples. A night that reads hours kept by hourly runs computes the same
-- figures with correlations_merged.sql instead (the same r to the last bits).
WITH raw AS (
  SELECT
    uuid,
    grouping(uuid) AS is_fleet,
    count(*) AS sample_count,
    corr(gpu_temperature_celsius, gpu_utilization_percent) AS temperature_load,
    corr(gpu_temperature_celsius, gpu_power_draw_watts) AS temperature_power,
    corr(gpu_temperature_celsius, gpu_memory_used_bytes) AS temperature_memory,
    corr(gpu_temperature_celsius, gpu_sm_clock_mhz) AS temperature_sm_clock,
    corr(gpu_utilization_percent, gpu_power_draw_watts) AS load_power,
    corr(gpu_utilization_percent, gpu_memory_used_bytes) AS load_memory,
    corr(gpu_utilization_percent, gpu_sm_clock_mhz) AS load_sm_clock,
    corr(gpu_power_draw_watts, gpu_memory_used_bytes) AS power_memory,
    corr(gpu_power_draw_watts, gpu_sm_clock_mhz) AS power_sm_clock,
    corr(gpu_memory_used_bytes, gpu_sm_clock_mhz) AS memory_sm_clock,
    corr(gpu_temperature_celsius, host_cpu_temperature_celsius) AS temperature_cpu_temperature
  FROM samples
  WHERE uuid IS NOT NULL
  GROUP BY GROUPING SETS ((uuid), ())
)
-- Engines disagree on undefined r (NaN or NULL): NULL everywhere.
SELECT
  CASE WHEN r.is_fleet = 1 THEN 'fleet' ELSE 'gpu' END AS scope,
  g.host,
  g.gpu_index,
  r.uuid,
  g.model,
  r.sample_count,
  CASE WHEN isnan(r.temperature_load) THEN NULL ELSE r.temperature_load END AS corr_temperature_load,
  CASE WHEN isnan(r.temperature_power) THEN NULL ELSE r.temperature_power END AS corr_temperature_power,
  CASE WHEN isnan(r.temperature_memory) THEN NULL ELSE r.temperature_memory END AS corr_temperature_memory,
  CASE WHEN isnan(r.temperature_sm_clock) THEN NULL ELSE r.temperature_sm_clock END AS corr_temperature_sm_clock,
  CASE WHEN isnan(r.load_power) THEN NULL ELSE r.load_power END AS corr_load_power,
  CASE WHEN isnan(r.load_memory) THEN NULL ELSE r.load_memory END AS corr_load_memory,
  CASE WHEN isnan(r.load_sm_clock) THEN NULL ELSE r.load_sm_clock END AS corr_load_sm_clock,
  CASE WHEN isnan(r.power_memory) THEN NULL ELSE r.power_memory END AS corr_power_memory,
  CASE WHEN isnan(r.power_sm_clock) THEN NULL ELSE r.power_sm_clock END AS corr_power_sm_clock,
  CASE WHEN isnan(r.memory_sm_clock) THEN NULL ELSE r.memory_sm_clock END AS corr_memory_sm_clock,
  CASE
    WHEN isnan(r.temperature_cpu_temperature) THEN NULL ELSE r.temperature_cpu_temperature
  END AS corr_temperature_cpu_temperature
FROM raw r
LEFT JOIN gpus g ON g.uuid = r.uuid
ORDER BY scope, g.host, g.gpu_index, r.uuid
