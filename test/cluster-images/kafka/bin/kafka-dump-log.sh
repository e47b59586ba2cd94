#!/usr/bin/env bash
# Prints the records of log segments, as Apache Kafka's bin/kafka-dump-log.sh.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.DumpLogSegments "$@"
