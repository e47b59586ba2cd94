#!/usr/bin/env bash
# Installs Apache Spark 4 for the tests: the pyspark package from PyPI (it carries Spark's jars) in a virtual
# environment under .cache/, run with the machine's Java 17. Idempotent; pip's cache makes re-installs fast.
# Prints the path of the environment's python on stdout.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PYSPARK_VERSION="${PYSPARK_VERSION:-4.0.1}"
venv="$here/.cache/pyspark-$PYSPARK_VERSION"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import pyspark" 2>/dev/null; then
  command -v java >/dev/null || { echo "spark.sh: java (17) is required" >&2; exit 1; }
  echo "installing pyspark $PYSPARK_VERSION into $venv (first run: a few minutes)..." >&2
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check "pyspark==$PYSPARK_VERSION" >&2
fi
echo "$venv/bin/python"
