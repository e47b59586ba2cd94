-- correlations, merged: the figures of correlations.sql for a night that reads hours kept by hourly runs.
--
-- correlations: Pearson's r between temperature, load, power, memory used and SM clock, all 10 pairs, per
-- GPU and for the fleet (r of each pair over the samples where both are known).
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
-- How: from the mergeable state of each pair (correlation_hours: count, means, sums of squared deviations,
-- co-moment, extremes) of the hours this run computed and of those kept by hourly runs
-- (stored_correlation_hours), merged per GPU and for the fleet by Chan et al.'s formulas: the means first,
-- then each part's sums moved to the merged means. r = c / sqrt(m2_a * m2_b), the same as corr() to the last
-- bits (docs/decisions/0014-incremental-analytics.md).
WITH parts AS (
  SELECT
    uuid, sample_count, temperature_load_n, temperature_load_mean_a, temperature_load_mean_b,
    temperature_load_m2_a, temperature_load_m2_b, temperature_load_c, temperature_load_min_a,
    temperature_load_max_a, temperature_load_min_b, temperature_load_max_b, temperature_power_n,
    temperature_power_mean_a, temperature_power_mean_b, temperature_power_m2_a, temperature_power_m2_b,
    temperature_power_c, temperature_power_min_a, temperature_power_max_a, temperature_power_min_b,
    temperature_power_max_b, temperature_memory_n, temperature_memory_mean_a, temperature_memory_mean_b,
    temperature_memory_m2_a, temperature_memory_m2_b, temperature_memory_c, temperature_memory_min_a,
    temperature_memory_max_a, temperature_memory_min_b, temperature_memory_max_b, temperature_sm_clock_n,
    temperature_sm_clock_mean_a, temperature_sm_clock_mean_b, temperature_sm_clock_m2_a,
    temperature_sm_clock_m2_b, temperature_sm_clock_c, temperature_sm_clock_min_a,
    temperature_sm_clock_max_a, temperature_sm_clock_min_b, temperature_sm_clock_max_b, load_power_n,
    load_power_mean_a, load_power_mean_b, load_power_m2_a, load_power_m2_b, load_power_c, load_power_min_a,
    load_power_max_a, load_power_min_b, load_power_max_b, load_memory_n, load_memory_mean_a,
    load_memory_mean_b, load_memory_m2_a, load_memory_m2_b, load_memory_c, load_memory_min_a,
    load_memory_max_a, load_memory_min_b, load_memory_max_b, load_sm_clock_n, load_sm_clock_mean_a,
    load_sm_clock_mean_b, load_sm_clock_m2_a, load_sm_clock_m2_b, load_sm_clock_c, load_sm_clock_min_a,
    load_sm_clock_max_a, load_sm_clock_min_b, load_sm_clock_max_b, power_memory_n, power_memory_mean_a,
    power_memory_mean_b, power_memory_m2_a, power_memory_m2_b, power_memory_c, power_memory_min_a,
    power_memory_max_a, power_memory_min_b, power_memory_max_b, power_sm_clock_n, power_sm_clock_mean_a,
    power_sm_clock_mean_b, power_sm_clock_m2_a, power_sm_clock_m2_b, power_sm_clock_c, power_sm_clock_min_a,
    power_sm_clock_max_a, power_sm_clock_min_b, power_sm_clock_max_b, memory_sm_clock_n,
    memory_sm_clock_mean_a, memory_sm_clock_mean_b, memory_sm_clock_m2_a, memory_sm_clock_m2_b,
    memory_sm_clock_c, memory_sm_clock_min_a, memory_sm_clock_max_a, memory_sm_clock_min_b,
    memory_sm_clock_max_b, temperature_cpu_temperature_n, temperature_cpu_temperature_mean_a,
    temperature_cpu_temperature_mean_b, temperature_cpu_temperature_m2_a, temperature_cpu_temperature_m2_b,
    temperature_cpu_temperature_c, temperature_cpu_temperature_min_a, temperature_cpu_temperature_max_a,
    temperature_cpu_temperature_min_b, temperature_cpu_temperature_max_b
  FROM correlation_hours
  UNION ALL
  SELECT
    uuid, sample_count, temperature_load_n, temperature_load_mean_a, temperature_load_mean_b,
    temperature_load_m2_a, temperature_load_m2_b, temperature_load_c, temperature_load_min_a,
    temperature_load_max_a, temperature_load_min_b, temperature_load_max_b, temperature_power_n,
    temperature_power_mean_a, temperature_power_mean_b, temperature_power_m2_a, temperature_power_m2_b,
    temperature_power_c, temperature_power_min_a, temperature_power_max_a, temperature_power_min_b,
    temperature_power_max_b, temperature_memory_n, temperature_memory_mean_a, temperature_memory_mean_b,
    temperature_memory_m2_a, temperature_memory_m2_b, temperature_memory_c, temperature_memory_min_a,
    temperature_memory_max_a, temperature_memory_min_b, temperature_memory_max_b, temperature_sm_clock_n,
    temperature_sm_clock_mean_a, temperature_sm_clock_mean_b, temperature_sm_clock_m2_a,
    temperature_sm_clock_m2_b, temperature_sm_clock_c, temperature_sm_clock_min_a,
    temperature_sm_clock_max_a, temperature_sm_clock_min_b, temperature_sm_clock_max_b, load_power_n,
    load_power_mean_a, load_power_mean_b, load_power_m2_a, load_power_m2_b, load_power_c, load_power_min_a,
    load_power_max_a, load_power_min_b, load_power_max_b, load_memory_n, load_memory_mean_a,
    load_memory_mean_b, load_memory_m2_a, load_memory_m2_b, load_memory_c, load_memory_min_a,
    load_memory_max_a, load_memory_min_b, load_memory_max_b, load_sm_clock_n, load_sm_clock_mean_a,
    load_sm_clock_mean_b, load_sm_clock_m2_a, load_sm_clock_m2_b, load_sm_clock_c, load_sm_clock_min_a,
    load_sm_clock_max_a, load_sm_clock_min_b, load_sm_clock_max_b, power_memory_n, power_memory_mean_a,
    power_memory_mean_b, power_memory_m2_a, power_memory_m2_b, power_memory_c, power_memory_min_a,
    power_memory_max_a, power_memory_min_b, power_memory_max_b, power_sm_clock_n, power_sm_clock_mean_a,
    power_sm_clock_mean_b, power_sm_clock_m2_a, power_sm_clock_m2_b, power_sm_clock_c, power_sm_clock_min_a,
    power_sm_clock_max_a, power_sm_clock_min_b, power_sm_clock_max_b, memory_sm_clock_n,
    memory_sm_clock_mean_a, memory_sm_clock_mean_b, memory_sm_clock_m2_a, memory_sm_clock_m2_b,
    memory_sm_clock_c, memory_sm_clock_min_a, memory_sm_clock_max_a, memory_sm_clock_min_b,
    memory_sm_clock_max_b, temperature_cpu_temperature_n, temperature_cpu_temperature_mean_a,
    temperature_cpu_temperature_mean_b, temperature_cpu_temperature_m2_a, temperature_cpu_temperature_m2_b,
    temperature_cpu_temperature_c, temperature_cpu_temperature_min_a, temperature_cpu_temperature_max_a,
    temperature_cpu_temperature_min_b, temperature_cpu_temperature_max_b
  FROM stored_correlation_hours
),
merged_means AS (
  SELECT
    uuid,
    grouping(uuid) AS is_fleet,
    sum(sample_count) AS sample_count,
    sum(temperature_load_n) AS temperature_load_n,
    CASE WHEN sum(temperature_load_n) > 0 THEN sum(temperature_load_n * temperature_load_mean_a) / sum(temperature_load_n) END AS temperature_load_mean_a,
    CASE WHEN sum(temperature_load_n) > 0 THEN sum(temperature_load_n * temperature_load_mean_b) / sum(temperature_load_n) END AS temperature_load_mean_b,
    min(temperature_load_min_a) AS temperature_load_min_a,
    max(temperature_load_max_a) AS temperature_load_max_a,
    min(temperature_load_min_b) AS temperature_load_min_b,
    max(temperature_load_max_b) AS temperature_load_max_b,
    sum(temperature_power_n) AS temperature_power_n,
    CASE WHEN sum(temperature_power_n) > 0 THEN sum(temperature_power_n * temperature_power_mean_a) / sum(temperature_power_n) END AS temperature_power_mean_a,
    CASE WHEN sum(temperature_power_n) > 0 THEN sum(temperature_power_n * temperature_power_mean_b) / sum(temperature_power_n) END AS temperature_power_mean_b,
    min(temperature_power_min_a) AS temperature_power_min_a,
    max(temperature_power_max_a) AS temperature_power_max_a,
    min(temperature_power_min_b) AS temperature_power_min_b,
    max(temperature_power_max_b) AS temperature_power_max_b,
    sum(temperature_memory_n) AS temperature_memory_n,
    CASE WHEN sum(temperature_memory_n) > 0 THEN sum(temperature_memory_n * temperature_memory_mean_a) / sum(temperature_memory_n) END AS temperature_memory_mean_a,
    CASE WHEN sum(temperature_memory_n) > 0 THEN sum(temperature_memory_n * temperature_memory_mean_b) / sum(temperature_memory_n) END AS temperature_memory_mean_b,
    min(temperature_memory_min_a) AS temperature_memory_min_a,
    max(temperature_memory_max_a) AS temperature_memory_max_a,
    min(temperature_memory_min_b) AS temperature_memory_min_b,
    max(temperature_memory_max_b) AS temperature_memory_max_b,
    sum(temperature_sm_clock_n) AS temperature_sm_clock_n,
    CASE WHEN sum(temperature_sm_clock_n) > 0 THEN sum(temperature_sm_clock_n * temperature_sm_clock_mean_a) / sum(temperature_sm_clock_n) END AS temperature_sm_clock_mean_a,
    CASE WHEN sum(temperature_sm_clock_n) > 0 THEN sum(temperature_sm_clock_n * temperature_sm_clock_mean_b) / sum(temperature_sm_clock_n) END AS temperature_sm_clock_mean_b,
    min(temperature_sm_clock_min_a) AS temperature_sm_clock_min_a,
    max(temperature_sm_clock_max_a) AS temperature_sm_clock_max_a,
    min(temperature_sm_clock_min_b) AS temperature_sm_clock_min_b,
    max(temperature_sm_clock_max_b) AS temperature_sm_clock_max_b,
    sum(load_power_n) AS load_power_n,
    CASE WHEN sum(load_power_n) > 0 THEN sum(load_power_n * load_power_mean_a) / sum(load_power_n) END AS load_power_mean_a,
    CASE WHEN sum(load_power_n) > 0 THEN sum(load_power_n * load_power_mean_b) / sum(load_power_n) END AS load_power_mean_b,
    min(load_power_min_a) AS load_power_min_a,
    max(load_power_max_a) AS load_power_max_a,
    min(load_power_min_b) AS load_power_min_b,
    max(load_power_max_b) AS load_power_max_b,
    sum(load_memory_n) AS load_memory_n,
    CASE WHEN sum(load_memory_n) > 0 THEN sum(load_memory_n * load_memory_mean_a) / sum(load_memory_n) END AS load_memory_mean_a,
    CASE WHEN sum(load_memory_n) > 0 THEN sum(load_memory_n * load_memory_mean_b) / sum(load_memory_n) END AS load_memory_mean_b,
    min(load_memory_min_a) AS load_memory_min_a,
    max(load_memory_max_a) AS load_memory_max_a,
    min(load_memory_min_b) AS load_memory_min_b,
    max(load_memory_max_b) AS load_memory_max_b,
    sum(load_sm_clock_n) AS load_sm_clock_n,
    CASE WHEN sum(load_sm_clock_n) > 0 THEN sum(load_sm_clock_n * load_sm_clock_mean_a) / sum(load_sm_clock_n) END AS load_sm_clock_mean_a,
    CASE WHEN sum(load_sm_clock_n) > 0 THEN sum(load_sm_clock_n * load_sm_clock_mean_b) / sum(load_sm_clock_n) END AS load_sm_clock_mean_b,
    min(load_sm_clock_min_a) AS load_sm_clock_min_a,
    max(load_sm_clock_max_a) AS load_sm_clock_max_a,
    min(load_sm_clock_min_b) AS load_sm_clock_min_b,
    max(load_sm_clock_max_b) AS load_sm_clock_max_b,
    sum(power_memory_n) AS power_memory_n,
    CASE WHEN sum(power_memory_n) > 0 THEN sum(power_memory_n * power_memory_mean_a) / sum(power_memory_n) END AS power_memory_mean_a,
    CASE WHEN sum(power_memory_n) > 0 THEN sum(power_memory_n * power_memory_mean_b) / sum(power_memory_n) END AS power_memory_mean_b,
    min(power_memory_min_a) AS power_memory_min_a,
    max(power_memory_max_a) AS power_memory_max_a,
    min(power_memory_min_b) AS power_memory_min_b,
    max(power_memory_max_b) AS power_memory_max_b,
    sum(power_sm_clock_n) AS power_sm_clock_n,
    CASE WHEN sum(power_sm_clock_n) > 0 THEN sum(power_sm_clock_n * power_sm_clock_mean_a) / sum(power_sm_clock_n) END AS power_sm_clock_mean_a,
    CASE WHEN sum(power_sm_clock_n) > 0 THEN sum(power_sm_clock_n * power_sm_clock_mean_b) / sum(power_sm_clock_n) END AS power_sm_clock_mean_b,
    min(power_sm_clock_min_a) AS power_sm_clock_min_a,
    max(power_sm_clock_max_a) AS power_sm_clock_max_a,
    min(power_sm_clock_min_b) AS power_sm_clock_min_b,
    max(power_sm_clock_max_b) AS power_sm_clock_max_b,
    sum(memory_sm_clock_n) AS memory_sm_clock_n,
    CASE WHEN sum(memory_sm_clock_n) > 0 THEN sum(memory_sm_clock_n * memory_sm_clock_mean_a) / sum(memory_sm_clock_n) END AS memory_sm_clock_mean_a,
    CASE WHEN sum(memory_sm_clock_n) > 0 THEN sum(memory_sm_clock_n * memory_sm_clock_mean_b) / sum(memory_sm_clock_n) END AS memory_sm_clock_mean_b,
    min(memory_sm_clock_min_a) AS memory_sm_clock_min_a,
    max(memory_sm_clock_max_a) AS memory_sm_clock_max_a,
    min(memory_sm_clock_min_b) AS memory_sm_clock_min_b,
    max(memory_sm_clock_max_b) AS memory_sm_clock_max_b,
    sum(temperature_cpu_temperature_n) AS temperature_cpu_temperature_n,
    CASE WHEN sum(temperature_cpu_temperature_n) > 0 THEN sum(temperature_cpu_temperature_n * temperature_cpu_temperature_mean_a) / sum(temperature_cpu_temperature_n) END AS temperature_cpu_temperature_mean_a,
    CASE WHEN sum(temperature_cpu_temperature_n) > 0 THEN sum(temperature_cpu_temperature_n * temperature_cpu_temperature_mean_b) / sum(temperature_cpu_temperature_n) END AS temperature_cpu_temperature_mean_b,
    min(temperature_cpu_temperature_min_a) AS temperature_cpu_temperature_min_a,
    max(temperature_cpu_temperature_max_a) AS temperature_cpu_temperature_max_a,
    min(temperature_cpu_temperature_min_b) AS temperature_cpu_temperature_min_b,
    max(temperature_cpu_temperature_max_b) AS temperature_cpu_temperature_max_b
  FROM parts
  GROUP BY GROUPING SETS ((uuid), ())
),
-- Each part beside the merged means of its GPU, and of the fleet.
beside AS (
  SELECT m.uuid AS merged_uuid, m.is_fleet, p.*
  FROM merged_means m
  JOIN parts p ON p.uuid = m.uuid
  WHERE m.is_fleet = 0
  UNION ALL
  SELECT m.uuid AS merged_uuid, m.is_fleet, p.*
  FROM merged_means m
  CROSS JOIN parts p
  WHERE m.is_fleet = 1
),
moments AS (
  SELECT
    b.merged_uuid AS uuid,
    b.is_fleet,
    sum(b.temperature_load_m2_a + b.temperature_load_n * (b.temperature_load_mean_a - m.temperature_load_mean_a) * (b.temperature_load_mean_a - m.temperature_load_mean_a)) AS temperature_load_m2_a,
    sum(b.temperature_load_m2_b + b.temperature_load_n * (b.temperature_load_mean_b - m.temperature_load_mean_b) * (b.temperature_load_mean_b - m.temperature_load_mean_b)) AS temperature_load_m2_b,
    sum(b.temperature_load_c + b.temperature_load_n * (b.temperature_load_mean_a - m.temperature_load_mean_a) * (b.temperature_load_mean_b - m.temperature_load_mean_b)) AS temperature_load_c,
    sum(b.temperature_power_m2_a + b.temperature_power_n * (b.temperature_power_mean_a - m.temperature_power_mean_a) * (b.temperature_power_mean_a - m.temperature_power_mean_a)) AS temperature_power_m2_a,
    sum(b.temperature_power_m2_b + b.temperature_power_n * (b.temperature_power_mean_b - m.temperature_power_mean_b) * (b.temperature_power_mean_b - m.temperature_power_mean_b)) AS temperature_power_m2_b,
    sum(b.temperature_power_c + b.temperature_power_n * (b.temperature_power_mean_a - m.temperature_power_mean_a) * (b.temperature_power_mean_b - m.temperature_power_mean_b)) AS temperature_power_c,
    sum(b.temperature_memory_m2_a + b.temperature_memory_n * (b.temperature_memory_mean_a - m.temperature_memory_mean_a) * (b.temperature_memory_mean_a - m.temperature_memory_mean_a)) AS temperature_memory_m2_a,
    sum(b.temperature_memory_m2_b + b.temperature_memory_n * (b.temperature_memory_mean_b - m.temperature_memory_mean_b) * (b.temperature_memory_mean_b - m.temperature_memory_mean_b)) AS temperature_memory_m2_b,
    sum(b.temperature_memory_c + b.temperature_memory_n * (b.temperature_memory_mean_a - m.temperature_memory_mean_a) * (b.temperature_memory_mean_b - m.temperature_memory_mean_b)) AS temperature_memory_c,
    sum(b.temperature_sm_clock_m2_a + b.temperature_sm_clock_n * (b.temperature_sm_clock_mean_a - m.temperature_sm_clock_mean_a) * (b.temperature_sm_clock_mean_a - m.temperature_sm_clock_mean_a)) AS temperature_sm_clock_m2_a,
    sum(b.temperature_sm_clock_m2_b + b.temperature_sm_clock_n * (b.temperature_sm_clock_mean_b - m.temperature_sm_clock_mean_b) * (b.temperature_sm_clock_mean_b - m.temperature_sm_clock_mean_b)) AS temperature_sm_clock_m2_b,
    sum(b.temperature_sm_clock_c + b.temperature_sm_clock_n * (b.temperature_sm_clock_mean_a - m.temperature_sm_clock_mean_a) * (b.temperature_sm_clock_mean_b - m.temperature_sm_clock_mean_b)) AS temperature_sm_clock_c,
    sum(b.load_power_m2_a + b.load_power_n * (b.load_power_mean_a - m.load_power_mean_a) * (b.load_power_mean_a - m.load_power_mean_a)) AS load_power_m2_a,
    sum(b.load_power_m2_b + b.load_power_n * (b.load_power_mean_b - m.load_power_mean_b) * (b.load_power_mean_b - m.load_power_mean_b)) AS load_power_m2_b,
    sum(b.load_power_c + b.load_power_n * (b.load_power_mean_a - m.load_power_mean_a) * (b.load_power_mean_b - m.load_power_mean_b)) AS load_power_c,
    sum(b.load_memory_m2_a + b.load_memory_n * (b.load_memory_mean_a - m.load_memory_mean_a) * (b.load_memory_mean_a - m.load_memory_mean_a)) AS load_memory_m2_a,
    sum(b.load_memory_m2_b + b.load_memory_n * (b.load_memory_mean_b - m.load_memory_mean_b) * (b.load_memory_mean_b - m.load_memory_mean_b)) AS load_memory_m2_b,
    sum(b.load_memory_c + b.load_memory_n * (b.load_memory_mean_a - m.load_memory_mean_a) * (b.load_memory_mean_b - m.load_memory_mean_b)) AS load_memory_c,
    sum(b.load_sm_clock_m2_a + b.load_sm_clock_n * (b.load_sm_clock_mean_a - m.load_sm_clock_mean_a) * (b.load_sm_clock_mean_a - m.load_sm_clock_mean_a)) AS load_sm_clock_m2_a,
    sum(b.load_sm_clock_m2_b + b.load_sm_clock_n * (b.load_sm_clock_mean_b - m.load_sm_clock_mean_b) * (b.load_sm_clock_mean_b - m.load_sm_clock_mean_b)) AS load_sm_clock_m2_b,
    sum(b.load_sm_clock_c + b.load_sm_clock_n * (b.load_sm_clock_mean_a - m.load_sm_clock_mean_a) * (b.load_sm_clock_mean_b - m.load_sm_clock_mean_b)) AS load_sm_clock_c,
    sum(b.power_memory_m2_a + b.power_memory_n * (b.power_memory_mean_a - m.power_memory_mean_a) * (b.power_memory_mean_a - m.power_memory_mean_a)) AS power_memory_m2_a,
    sum(b.power_memory_m2_b + b.power_memory_n * (b.power_memory_mean_b - m.power_memory_mean_b) * (b.power_memory_mean_b - m.power_memory_mean_b)) AS power_memory_m2_b,
    sum(b.power_memory_c + b.power_memory_n * (b.power_memory_mean_a - m.power_memory_mean_a) * (b.power_memory_mean_b - m.power_memory_mean_b)) AS power_memory_c,
    sum(b.power_sm_clock_m2_a + b.power_sm_clock_n * (b.power_sm_clock_mean_a - m.power_sm_clock_mean_a) * (b.power_sm_clock_mean_a - m.power_sm_clock_mean_a)) AS power_sm_clock_m2_a,
    sum(b.power_sm_clock_m2_b + b.power_sm_clock_n * (b.power_sm_clock_mean_b - m.power_sm_clock_mean_b) * (b.power_sm_clock_mean_b - m.power_sm_clock_mean_b)) AS power_sm_clock_m2_b,
    sum(b.power_sm_clock_c + b.power_sm_clock_n * (b.power_sm_clock_mean_a - m.power_sm_clock_mean_a) * (b.power_sm_clock_mean_b - m.power_sm_clock_mean_b)) AS power_sm_clock_c,
    sum(b.memory_sm_clock_m2_a + b.memory_sm_clock_n * (b.memory_sm_clock_mean_a - m.memory_sm_clock_mean_a) * (b.memory_sm_clock_mean_a - m.memory_sm_clock_mean_a)) AS memory_sm_clock_m2_a,
    sum(b.memory_sm_clock_m2_b + b.memory_sm_clock_n * (b.memory_sm_clock_mean_b - m.memory_sm_clock_mean_b) * (b.memory_sm_clock_mean_b - m.memory_sm_clock_mean_b)) AS memory_sm_clock_m2_b,
    sum(b.memory_sm_clock_c + b.memory_sm_clock_n * (b.memory_sm_clock_mean_a - m.memory_sm_clock_mean_a) * (b.memory_sm_clock_mean_b - m.memory_sm_clock_mean_b)) AS memory_sm_clock_c,
    sum(b.temperature_cpu_temperature_m2_a + b.temperature_cpu_temperature_n * (b.temperature_cpu_temperature_mean_a - m.temperature_cpu_temperature_mean_a) * (b.temperature_cpu_temperature_mean_a - m.temperature_cpu_temperature_mean_a)) AS temperature_cpu_temperature_m2_a,
    sum(b.temperature_cpu_temperature_m2_b + b.temperature_cpu_temperature_n * (b.temperature_cpu_temperature_mean_b - m.temperature_cpu_temperature_mean_b) * (b.temperature_cpu_temperature_mean_b - m.temperature_cpu_temperature_mean_b)) AS temperature_cpu_temperature_m2_b,
    sum(b.temperature_cpu_temperature_c + b.temperature_cpu_temperature_n * (b.temperature_cpu_temperature_mean_a - m.temperature_cpu_temperature_mean_a) * (b.temperature_cpu_temperature_mean_b - m.temperature_cpu_temperature_mean_b)) AS temperature_cpu_temperature_c
  FROM beside b
  JOIN merged_means m ON m.is_fleet = b.is_fleet AND m.uuid IS NOT DISTINCT FROM b.merged_uuid
  GROUP BY b.merged_uuid, b.is_fleet
),
r AS (
  SELECT
    m.uuid,
    m.is_fleet,
    m.sample_count,
    CASE
      WHEN m.temperature_load_n >= 2 AND m.temperature_load_min_a < m.temperature_load_max_a AND m.temperature_load_min_b < m.temperature_load_max_b
        THEN o.temperature_load_c / sqrt(o.temperature_load_m2_a * o.temperature_load_m2_b)
    END AS temperature_load,
    CASE
      WHEN m.temperature_power_n >= 2 AND m.temperature_power_min_a < m.temperature_power_max_a AND m.temperature_power_min_b < m.temperature_power_max_b
        THEN o.temperature_power_c / sqrt(o.temperature_power_m2_a * o.temperature_power_m2_b)
    END AS temperature_power,
    CASE
      WHEN m.temperature_memory_n >= 2 AND m.temperature_memory_min_a < m.temperature_memory_max_a AND m.temperature_memory_min_b < m.temperature_memory_max_b
        THEN o.temperature_memory_c / sqrt(o.temperature_memory_m2_a * o.temperature_memory_m2_b)
    END AS temperature_memory,
    CASE
      WHEN m.temperature_sm_clock_n >= 2 AND m.temperature_sm_clock_min_a < m.temperature_sm_clock_max_a AND m.temperature_sm_clock_min_b < m.temperature_sm_clock_max_b
        THEN o.temperature_sm_clock_c / sqrt(o.temperature_sm_clock_m2_a * o.temperature_sm_clock_m2_b)
    END AS temperature_sm_clock,
    CASE
      WHEN m.load_power_n >= 2 AND m.load_power_min_a < m.load_power_max_a AND m.load_power_min_b < m.load_power_max_b
        THEN o.load_power_c / sqrt(o.load_power_m2_a * o.load_power_m2_b)
    END AS load_power,
    CASE
      WHEN m.load_memory_n >= 2 AND m.load_memory_min_a < m.load_memory_max_a AND m.load_memory_min_b < m.load_memory_max_b
        THEN o.load_memory_c / sqrt(o.load_memory_m2_a * o.load_memory_m2_b)
    END AS load_memory,
    CASE
      WHEN m.load_sm_clock_n >= 2 AND m.load_sm_clock_min_a < m.load_sm_clock_max_a AND m.load_sm_clock_min_b < m.load_sm_clock_max_b
        THEN o.load_sm_clock_c / sqrt(o.load_sm_clock_m2_a * o.load_sm_clock_m2_b)
    END AS load_sm_clock,
    CASE
      WHEN m.power_memory_n >= 2 AND m.power_memory_min_a < m.power_memory_max_a AND m.power_memory_min_b < m.power_memory_max_b
        THEN o.power_memory_c / sqrt(o.power_memory_m2_a * o.power_memory_m2_b)
    END AS power_memory,
    CASE
      WHEN m.power_sm_clock_n >= 2 AND m.power_sm_clock_min_a < m.power_sm_clock_max_a AND m.power_sm_clock_min_b < m.power_sm_clock_max_b
        THEN o.power_sm_clock_c / sqrt(o.power_sm_clock_m2_a * o.power_sm_clock_m2_b)
    END AS power_sm_clock,
    CASE
      WHEN m.memory_sm_clock_n >= 2 AND m.memory_sm_clock_min_a < m.memory_sm_clock_max_a AND m.memory_sm_clock_min_b < m.memory_sm_clock_max_b
        THEN o.memory_sm_clock_c / sqrt(o.memory_sm_clock_m2_a * o.memory_sm_clock_m2_b)
    END AS memory_sm_clock,
    CASE
      WHEN m.temperature_cpu_temperature_n >= 2 AND m.temperature_cpu_temperature_min_a < m.temperature_cpu_temperature_max_a AND m.temperature_cpu_temperature_min_b < m.temperature_cpu_temperature_max_b
        THEN o.temperature_cpu_temperature_c / sqrt(o.temperature_cpu_temperature_m2_a * o.temperature_cpu_temperature_m2_b)
    END AS temperature_cpu_temperature
  FROM merged_means m
  JOIN moments o ON o.is_fleet = m.is_fleet AND o.uuid IS NOT DISTINCT FROM m.uuid
)
SELECT
  CASE WHEN r.is_fleet = 1 THEN 'fleet' ELSE 'gpu' END AS scope,
  g.host,
  g.gpu_index,
  r.uuid,
  g.model,
  CAST(r.sample_count AS BIGINT) AS sample_count,
  r.temperature_load AS corr_temperature_load,
  r.temperature_power AS corr_temperature_power,
  r.temperature_memory AS corr_temperature_memory,
  r.temperature_sm_clock AS corr_temperature_sm_clock,
  r.load_power AS corr_load_power,
  r.load_memory AS corr_load_memory,
  r.load_sm_clock AS corr_load_sm_clock,
  r.power_memory AS corr_power_memory,
  r.power_sm_clock AS corr_power_sm_clock,
  r.memory_sm_clock AS corr_memory_sm_clock,
  r.temperature_cpu_temperature AS corr_temperature_cpu_temperature
FROM r
LEFT JOIN gpus g ON g.uuid = r.uuid
ORDER BY scope, g.host, g.gpu_index, r.uuid
