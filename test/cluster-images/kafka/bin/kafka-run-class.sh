#!/usr/bin/env bash
# Runs a Java class of Kafka with /opt/kafka/libs/* on the class path, as Apache Kafka's own
# bin/kafka-run-class.sh does (this stand-in's jars come from Maven Central, which carries no scripts).
#   kafka-run-class.sh [-daemon] [-name NAME] [-loggc] CLASS [ARGS...]
# The same variables: KAFKA_HEAP_OPTS (-Xmx256M), KAFKA_JVM_PERFORMANCE_OPTS (G1), KAFKA_GC_LOG_OPTS,
# KAFKA_JMX_OPTS, JMX_PORT, KAFKA_LOG4J_OPTS (config/tools-log4j2.yaml), KAFKA_OPTS, LOG_DIR
# (/opt/kafka/logs, created when missing), CLASSPATH (prepended), JAVA_HOME.
if [ $# -lt 1 ]; then
  echo "USAGE: $0 [-daemon] [-name servicename] [-loggc] classname [opts]"
  exit 1
fi
base_dir="$(cd "$(dirname "$0")/.." && pwd)"

daemon=""
name=""
gc=""
while [ $# -gt 0 ]; do
  case "$1" in
    -name)
      name="$2"
      shift 2
      ;;
    -loggc)
      [ -n "${KAFKA_GC_LOG_OPTS:-}" ] || gc=1
      shift
      ;;
    -daemon)
      daemon=1
      shift
      ;;
    *) break ;;
  esac
done

CLASSPATH="${CLASSPATH:+$CLASSPATH:}$base_dir/libs/*"
LOG_DIR="${LOG_DIR:-$base_dir/logs}"
# as upstream: a log directory that cannot be made is reported, not fatal (log4j then logs to the console)
[ -d "$LOG_DIR" ] || mkdir -p "$LOG_DIR"

KAFKA_LOG4J_OPTS="-Dkafka.logs.dir=$LOG_DIR ${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=$base_dir/config/tools-log4j2.yaml}"
KAFKA_JMX_OPTS="${KAFKA_JMX_OPTS:--Dcom.sun.management.jmxremote -Dcom.sun.management.jmxremote.authenticate=false -Dcom.sun.management.jmxremote.ssl=false}"
[ -z "${JMX_PORT:-}" ] || KAFKA_JMX_OPTS="$KAFKA_JMX_OPTS -Dcom.sun.management.jmxremote.port=$JMX_PORT"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx256M}"
KAFKA_JVM_PERFORMANCE_OPTS="${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true}"
if [ -n "$gc" ]; then
  KAFKA_GC_LOG_OPTS="-Xlog:gc*:file=$LOG_DIR/${name:-kafka}-gc.log:time,tags:filecount=10,filesize=100M"
fi

if [ -n "${JAVA_HOME:-}" ]; then java="$JAVA_HOME/bin/java"; else java=java; fi

# shellcheck disable=SC2086 # the *_OPTS variables are lists of JVM options: split on spaces, as upstream
set -- "$java" $KAFKA_HEAP_OPTS $KAFKA_JVM_PERFORMANCE_OPTS ${KAFKA_GC_LOG_OPTS:-} $KAFKA_JMX_OPTS \
  $KAFKA_LOG4J_OPTS -cp "$CLASSPATH" ${KAFKA_OPTS:-} "$@"
if [ -n "$daemon" ]; then
  nohup "$@" >"$LOG_DIR/${name:-kafka}.out" 2>&1 </dev/null &
else
  exec "$@"
fi
