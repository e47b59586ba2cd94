#!/usr/bin/env bash
# Describes the KRaft quorum (and adds or removes controllers), as Apache Kafka's bin/kafka-metadata-quorum.sh.
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.MetadataQuorumCommand "$@"
