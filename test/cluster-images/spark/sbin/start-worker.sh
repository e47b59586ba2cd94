#!/usr/bin/env bash
# Starts a Spark standalone worker (org.apache.spark.deploy.worker.Worker) through sbin/spark-daemon.sh, as
# the script of Spark's distribution (PyPI's pyspark, this stand-in's source, lacks it):
#   start-worker.sh spark://HOST:PORT [options]   SPARK_WORKER_PORT (random), SPARK_WORKER_WEBUI_PORT (8081),
#                                  SPARK_WORKER_CORES, SPARK_WORKER_MEMORY; SPARK_NO_DAEMONIZE=1: foreground
if [ -z "${SPARK_HOME:-}" ]; then SPARK_HOME="$(cd "$(dirname "$0")/.." && pwd)"; fi
export SPARK_HOME
class=org.apache.spark.deploy.worker.Worker
if [ $# -lt 1 ] || [[ " $* " == *" --help "* ]] || [[ " $* " == *" -h "* ]]; then
  echo "Usage: ./sbin/start-worker.sh <master> [options]"
  "$SPARK_HOME/bin/spark-class" "$class" --help
  exit 1
fi
# shellcheck source=/dev/null
. "$SPARK_HOME/sbin/spark-config.sh"
# shellcheck source=/dev/null
. "$SPARK_HOME/bin/load-spark-env.sh"
master="$1"
shift
port=()
[ -z "${SPARK_WORKER_PORT:-}" ] || port=(--port "$SPARK_WORKER_PORT")
exec "$SPARK_HOME/sbin/spark-daemon.sh" start "$class" 1 --webui-port "${SPARK_WORKER_WEBUI_PORT:-8081}" \
  "${port[@]}" "$master" "$@"
