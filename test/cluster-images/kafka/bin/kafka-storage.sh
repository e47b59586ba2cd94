#!/usr/bin/env bash
# Formats and inspects a KRaft node's storage (random-uuid, format, info), as Apache Kafka's bin/kafka-storage.sh.
exec "$(dirname "$0")/kafka-run-class.sh" kafka.tools.StorageTool "$@"
