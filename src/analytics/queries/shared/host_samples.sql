-- host_samples: one row per host and instant, the host's own metrics (CPU temperature and utilization, system
-- memory used and installed) taken out of its GPUs' samples.
--
-- Every GPU sample of a host carries the host's reading of that instant, so a host with 8 GPUs has 8 copies
-- of each reading. They are counted once: grouped by (host, ts). Where the copies disagree (or some lack the
-- reading: a file of an older catalog, a GPU sampled without it), the highest known value is taken; a reading
-- no copy has stays NULL (never 0). Instants without any host reading are kept (a host's consecutive samples
-- are all its instants, as a GPU's are, so a spike is never found across a sample that lacks the reading).
--
-- t_us: the instant, epoch microseconds. Reads: samples. Kept as a relation for the host analyses.
SELECT
  host,
  {{epoch_micros(ts)}} AS t_us,
  max(host_cpu_temperature_celsius) AS cpu_temperature_celsius,
  max(host_cpu_utilization_percent) AS cpu_utilization_percent,
  max(host_memory_used_bytes) AS memory_used_bytes,
  max(host_memory_total_bytes) AS memory_total_bytes
FROM samples
WHERE host IS NOT NULL AND ts IS NOT NULL
GROUP BY host, ts
