#!/bin/bash
# First-start initialisation of this stand-in of the influxdb:1.x image, with the official one's variables:
# when the meta directory does not exist yet and something is asked for, starts influxd on 127.0.0.1:8086
# alone, creates what the variables ask, runs /docker-entrypoint-initdb.d/*.sh and *.iql, and stops it.
#   INFLUXDB_DB, INFLUXDB_DB_RETENTION_POLICY (e.g. "WITH DURATION 30d"), INFLUXDB_HTTP_AUTH_ENABLED,
#   INFLUXDB_ADMIN_USER / _PASSWORD, INFLUXDB_USER / _PASSWORD (all on INFLUXDB_DB), INFLUXDB_WRITE_USER /
#   _PASSWORD, INFLUXDB_READ_USER / _PASSWORD (users need auth enabled and an admin), INFLUXDB_META_DIR.
# A password left empty is generated and printed.
set -e

auth="${INFLUXDB_HTTP_AUTH_ENABLED:-}"
if [ -z "$auth" ]; then
  auth="$(grep -iE '^\s*auth-enabled\s*=\s*true' /etc/influxdb/influxdb.conf | grep -io true || true)"
else
  auth="$(echo "$auth" | grep -io true || true)"
fi
meta="${INFLUXDB_META_DIR:-/var/lib/influxdb/meta}"
users=""
[ -z "$auth" ] || [ -z "${INFLUXDB_ADMIN_USER:-}" ] || users=1

[ -z "$users" ] && [ -z "${INFLUXDB_DB:-}" ] && [ -z "$(ls -A /docker-entrypoint-initdb.d 2>/dev/null)" ] && exit 0
[ -d "$meta" ] && exit 0

password() { tr -dc _A-Za-z0-9- </dev/urandom | head -c 32; }
create_db="CREATE DATABASE \"${INFLUXDB_DB:-}\" ${INFLUXDB_DB_RETENTION_POLICY:-}"

INFLUXDB_HTTP_BIND_ADDRESS=127.0.0.1:8086 INFLUXDB_HTTP_HTTPS_ENABLED=false influxd "$@" &
pid=$!
influx_cmd=(influx -host 127.0.0.1 -port 8086)
first="SHOW DATABASES"
if [ -n "$users" ]; then
  if [ -z "${INFLUXDB_ADMIN_PASSWORD:-}" ]; then
    INFLUXDB_ADMIN_PASSWORD="$(password)"
    echo "INFLUXDB_ADMIN_PASSWORD:$INFLUXDB_ADMIN_PASSWORD"
  fi
  first="CREATE USER \"$INFLUXDB_ADMIN_USER\" WITH PASSWORD '$INFLUXDB_ADMIN_PASSWORD' WITH ALL PRIVILEGES"
elif [ -n "${INFLUXDB_DB:-}" ]; then
  first="$create_db"
fi
for i in {30..0}; do
  if "${influx_cmd[@]}" -execute "$first" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "influxdb init process failed: influxd exited (its messages above)." >&2
    exit 1
  fi
  echo "influxdb init process in progress..."
  sleep 1
done
if [ "$i" = 0 ]; then
  echo "influxdb init process failed." >&2
  exit 1
fi

if [ -n "$users" ]; then
  influx_cmd+=(-username "$INFLUXDB_ADMIN_USER" -password "$INFLUXDB_ADMIN_PASSWORD")
  [ -z "${INFLUXDB_DB:-}" ] || "${influx_cmd[@]}" -execute "$create_db"
  # the user, the write user and the read user, each with its privileges on INFLUXDB_DB
  for kind in "" WRITE_ READ_; do
    name_var="INFLUXDB_${kind}USER"
    pass_var="INFLUXDB_${kind}USER_PASSWORD"
    [ -n "${!name_var:-}" ] || continue
    if [ -z "${!pass_var:-}" ]; then
      printf -v "$pass_var" '%s' "$(password)"
      echo "$pass_var:${!pass_var}"
    fi
    "${influx_cmd[@]}" -execute "CREATE USER \"${!name_var}\" WITH PASSWORD '${!pass_var}'"
    "${influx_cmd[@]}" -execute "REVOKE ALL PRIVILEGES FROM \"${!name_var}\""
    if [ -n "${INFLUXDB_DB:-}" ]; then
      case "$kind" in
        "") privilege=ALL ;;
        WRITE_) privilege=WRITE ;;
        READ_) privilege=READ ;;
      esac
      "${influx_cmd[@]}" -execute "GRANT $privilege ON \"$INFLUXDB_DB\" TO \"${!name_var}\""
    fi
  done
fi

for f in /docker-entrypoint-initdb.d/*; do
  case "$f" in
    *.sh)
      echo "$0: running $f"
      # shellcheck source=/dev/null
      . "$f"
      ;;
    *.iql)
      echo "$0: running $f"
      "${influx_cmd[@]}" -execute "$(cat "$f")"
      ;;
    *) [ ! -e "$f" ] || echo "$0: ignoring $f" ;;
  esac
done

if ! kill -s TERM "$pid" || ! wait "$pid"; then
  echo "influxdb init process failed (could not stop influxdb)." >&2
  exit 1
fi
