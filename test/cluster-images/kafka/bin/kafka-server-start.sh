#!/usr/bin/env bash
# Starts a Kafka broker and/or controller (kafka.Kafka), as Apache Kafka's bin/kafka-server-start.sh:
#   kafka-server-start.sh [-daemon] server.properties [--override property=value]*
# KAFKA_HEAP_OPTS defaults to -Xmx1G -Xms1G, logging to config/log4j2.yaml (the console and $LOG_DIR), and
# a GC log in $LOG_DIR (EXTRA_ARGS, default "-name kafkaServer -loggc"): LOG_DIR must be writable.
if [ $# -lt 1 ]; then
  echo "USAGE: $0 [-daemon] server.properties [--override property=value]*"
  exit 1
fi
base_dir="$(dirname "$0")"
export KAFKA_LOG4J_OPTS="${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=$base_dir/../config/log4j2.yaml}"
export KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G}"
EXTRA_ARGS="${EXTRA_ARGS--name kafkaServer -loggc}"
if [ "$1" = -daemon ]; then
  EXTRA_ARGS="-daemon $EXTRA_ARGS"
  shift
fi
# shellcheck disable=SC2086 # EXTRA_ARGS is a list of options
exec "$base_dir/kafka-run-class.sh" $EXTRA_ARGS kafka.Kafka "$@"
