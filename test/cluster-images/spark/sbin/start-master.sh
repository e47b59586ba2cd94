#!/usr/bin/env bash
# Starts a Spark standalone master (org.apache.spark.deploy.master.Master) through sbin/spark-daemon.sh, as
# the script of Spark's distribution (PyPI's pyspark, this stand-in's source, lacks it):
#   start-master.sh [options]      SPARK_MASTER_HOST (hostname -f), SPARK_MASTER_PORT (7077),
#                                  SPARK_MASTER_WEBUI_PORT (8080); SPARK_NO_DAEMONIZE=1 keeps it in the foreground
if [ -z "${SPARK_HOME:-}" ]; then SPARK_HOME="$(cd "$(dirname "$0")/.." && pwd)"; fi
export SPARK_HOME
class=org.apache.spark.deploy.master.Master
case " $* " in
  *" --help "* | *" -h "*)
    echo "Usage: ./sbin/start-master.sh [options]"
    "$SPARK_HOME/bin/spark-class" "$class" --help
    exit 1
    ;;
esac
# shellcheck source=/dev/null
. "$SPARK_HOME/sbin/spark-config.sh"
# shellcheck source=/dev/null
. "$SPARK_HOME/bin/load-spark-env.sh"
exec "$SPARK_HOME/sbin/spark-daemon.sh" start "$class" 1 \
  --host "${SPARK_MASTER_HOST:-$(hostname -f)}" --port "${SPARK_MASTER_PORT:-7077}" \
  --webui-port "${SPARK_MASTER_WEBUI_PORT:-8080}" "$@"
