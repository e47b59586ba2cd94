#!/bin/bash
# The entrypoint of this stand-in of the influxdb:1.x image, with the official one's behaviour: options alone
# (`-config FILE`) are given to influxd; `influxd` first runs /init-influxdb.sh (a database and users from
# the INFLUXDB_* variables, on the first start only); anything else runs as given.
set -e
if [ "${1:0:1}" = '-' ]; then
  set -- influxd "$@"
fi
if [ "$1" = influxd ]; then
  /init-influxdb.sh "${@:2}"
fi
exec "$@"
