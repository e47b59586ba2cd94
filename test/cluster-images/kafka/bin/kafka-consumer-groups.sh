#!/usr/bin/env bash
# Lists, describes and resets consumer groups, as Apache Kafka's bin/kafka-consumer-groups.sh.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.consumer.group.ConsumerGroupCommand "$@"
