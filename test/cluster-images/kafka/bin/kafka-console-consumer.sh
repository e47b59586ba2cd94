#!/usr/bin/env bash
# Prints a topic's messages, as Apache Kafka's bin/kafka-console-consumer.sh.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.consumer.ConsoleConsumer "$@"
