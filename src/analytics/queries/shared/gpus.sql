-- gpus: one row per GPU seen on the day, keyed by its UUID (the key of the live alert rules).
--
-- A GPU is its UUID. host, gpu_index and model are those of its latest sample, so a card moved to another
-- slot or host during the day still has one row. gpu_key is a small integer standing for the UUID:
-- windows partitioned by it sort several times faster than by the 40-character UUID. sample_count: the GPU's
-- samples of the day (the job sizes the parts of gpu_power_percentiles by their sum).
--
-- Reads: samples. Kept as a relation for the other queries.
WITH seen AS (
  SELECT uuid, host, gpu_index, model, max(ts) AS last_ts, count(*) AS n
  FROM samples
  WHERE uuid IS NOT NULL
  GROUP BY uuid, host, gpu_index, model
),
latest AS (
  SELECT
    uuid,
    host,
    gpu_index,
    model,
    row_number() OVER (PARTITION BY uuid ORDER BY last_ts DESC, host, gpu_index, model) AS recency,
    sum(n) OVER (PARTITION BY uuid) AS sample_count
  FROM seen
)
SELECT
  CAST(row_number() OVER (ORDER BY uuid) AS INTEGER) AS gpu_key,
  uuid,
  host,
  gpu_index,
  model,
  CAST(sample_count AS BIGINT) AS sample_count
FROM latest
WHERE recency = 1
