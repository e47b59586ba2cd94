#!/usr/bin/env bash
# Builds the peers of bench/telegraf, cached outside the clone, and prints the Telegraf binary's path:
#   - Telegraf 1.37.2 from the Go module proxy with only the plugins the benches use (build tags);
#   - bench/telegraf/xmlparse, a harness timing Telegraf's nvidia_smi parser in-process.
# Idempotent: a binary already built for this version (and, for the harness, these sources) is kept.
# Usage: bench/telegraf/build.sh            -> the telegraf binary's path
#        bench/telegraf/build.sh xmlparse   -> the xmlparse harness's path
set -euo pipefail

VERSION=1.37.2
GO=${GO:-/usr/local/go/bin/go}
CACHE=${GPUMON_TELEGRAF_CACHE:-$HOME/.cache/gpumon/telegraf/$VERSION}
HERE=$(cd "$(dirname "$0")" && pwd)
TAGS="custom,inputs.kafka_consumer,inputs.nvidia_smi,outputs.influxdb,parsers.influx,serializers.influx"

export GOFLAGS=-mod=mod
mkdir -p "$CACHE/bin"
# One build at a time (two benches started together share the cache).
exec 9>"$CACHE/.lock"
flock 9

if [[ ${1:-} == xmlparse ]]; then
  # Rebuilt when its sources change: the cache key is a hash of them.
  key=$(cat "$HERE/xmlparse/go.mod" "$HERE/xmlparse/main.go" | sha256sum | cut -c1-12)
  harness="$CACHE/bin/xmlparse-$key"
  if [[ ! -x $harness ]]; then
    echo "building the xmlparse harness into $harness" >&2
    (cd "$HERE/xmlparse" && "$GO" build -trimpath -modfile=go.mod -o "$harness" .) >&2
  fi
  echo "$harness"
else
  telegraf="$CACHE/bin/telegraf"
  if [[ ! -x $telegraf ]]; then
    echo "building Telegraf $VERSION into $CACHE/bin (tags $TAGS)" >&2
    GOBIN="$CACHE/bin" "$GO" install -trimpath -tags "$TAGS" "github.com/influxdata/telegraf/cmd/telegraf@v$VERSION" >&2
  fi
  echo "$telegraf"
fi
