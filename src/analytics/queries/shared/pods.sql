-- pods: one row per Kubernetes pod container seen on the day (namespace, pod, container), keyed by pod_key.
--
-- pod_key is a small integer standing for the three strings in the window pass (gpu_intervals): carried
-- through the day's sort, three strings cost about as much as every other column together, even when NULL.
-- A sample without any of the three (a GPU no pod held, outside Kubernetes, an archive older than these
-- columns) has no row here and a NULL pod_key. Strings are matched as they are, NULL included (IS NOT
-- DISTINCT FROM), so pod_usage gives back exactly what the samples carried.
--
-- Reads: samples. Kept as a relation for gpu_intervals and pod_usage.
SELECT
  namespace,
  pod,
  container,
  CAST(
    row_number() OVER (ORDER BY namespace NULLS LAST, pod NULLS LAST, container NULLS LAST) AS INTEGER
  ) AS pod_key
FROM (
  SELECT DISTINCT namespace, pod, container
  FROM samples
  WHERE namespace IS NOT NULL OR pod IS NOT NULL OR container IS NOT NULL
) seen
