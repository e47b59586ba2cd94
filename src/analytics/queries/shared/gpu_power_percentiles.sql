-- gpu_power_percentiles: each GPU's p50, p95 and p99 power draw (continuous percentiles, linear between the
-- closest ranks), as the list power_percentiles, for daily_stats.
--
-- A GPU's power readings are mostly distinct, so these are exact percentile aggregates: each holds every
-- reading of its GPU until its statement ends, outside the engine's memory limit. The job builds this
-- relation over parts of the GPUs, each part its own statement (in_part of the UUID: a GPU's samples are all in
-- one part), so that the readings held at once stay bounded however large the fleet
-- (analytics.percentilePartSamples; docs/decisions/0008-daily-analytics-cost.md, fifth round).
--
-- Reads: samples.
SELECT
  uuid,
  {{p50_p95_p99(gpu_power_draw_watts)}} AS power_percentiles
FROM samples
WHERE uuid IS NOT NULL AND {{in_part(uuid)}}
GROUP BY uuid
