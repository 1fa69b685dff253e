#!/usr/bin/env bash
# Start a PostgreSQL server with PostGIS for the store tests, and print where it is.
#
#   eval "$(bash .ci/postgres.sh)"    # sets GISAPP_TEST_POSTGRES_URL
#
# Installs the Debian packages when missing (postgresql, postgresql-15-postgis-3), starts
# the cluster "15 main" when it is down, and creates the role and database "gisapp_test"
# with the postgis extension. Safe to run again; quick when everything is there already.
# Progress goes to stderr; stdout holds only the export line (the tools' own output, such
# as pg_ctlcluster's "Removed stale pid file", is sent to stderr too).
set -euo pipefail
exec 3>&1 1>&2  # the server started below must not hold fd 3 (it would keep $(...) waiting)

PG_VERSION="${PG_VERSION:-15}"
PG_CLUSTER="${PG_CLUSTER:-main}"
DB_NAME="${GISAPP_TEST_DB:-gisapp_test}"
DB_USER="${GISAPP_TEST_DB_USER:-gisapp_test}"
DB_PASSWORD="${GISAPP_TEST_DB_PASSWORD:-gisapp_test}"

if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
say() { echo "postgres.sh: $*" >&2; }
as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}

control="/usr/share/postgresql/${PG_VERSION}/extension/postgis.control"
if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ ! -f "$control" ]; then
  say "installing postgresql and postgresql-${PG_VERSION}-postgis-3"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
    postgresql "postgresql-${PG_VERSION}-postgis-3" >/dev/null
fi

if ! pg_lsclusters -h 2>/dev/null | awk '{print $1, $2}' | grep -qx "${PG_VERSION} ${PG_CLUSTER}"; then
  say "creating cluster ${PG_VERSION} ${PG_CLUSTER}"
  $SUDO pg_createcluster "${PG_VERSION}" "${PG_CLUSTER}" >/dev/null
fi
status="$(pg_lsclusters -h | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1 == v && $2 == c {print $4}')"
if [ "$status" != "online" ]; then
  # A server killed without shutting down (a machine image taken while it ran) leaves its
  # socket lock behind, naming a process that no longer exists; that lock blocks the start.
  for lock in /var/run/postgresql/.s.PGSQL.*.lock; do
    [ -f "$lock" ] || continue
    pid="$(head -n 1 "$lock" | tr -d ' ')"
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      say "removing stale socket lock $lock (process $pid is gone)"
      $SUDO rm -f "$lock"
    fi
  done
  say "starting cluster ${PG_VERSION} ${PG_CLUSTER}"
  $SUDO pg_ctlcluster "${PG_VERSION}" "${PG_CLUSTER}" start 3>&-
fi
port="$(pg_lsclusters -h | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1 == v && $2 == c {print $3}')"

psql_admin() { as_postgres psql -p "$port" -X -q -v ON_ERROR_STOP=1 "$@"; }
for _ in $(seq 1 30); do
  psql_admin -tAc "SELECT 1" >/dev/null 2>&1 && break
  sleep 0.5
done

if [ -z "$(psql_admin -tAc "SELECT 1 FROM pg_roles WHERE rolname = '${DB_USER}'")" ]; then
  say "creating role ${DB_USER}"
  psql_admin -c "CREATE ROLE \"${DB_USER}\" LOGIN PASSWORD '${DB_PASSWORD}'"
fi
if [ -z "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '${DB_NAME}'")" ]; then
  say "creating database ${DB_NAME}"
  psql_admin -c "CREATE DATABASE \"${DB_NAME}\" OWNER \"${DB_USER}\" ENCODING 'UTF8' TEMPLATE template0"
fi
psql_admin -d "$DB_NAME" -c "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS postgis"

url="postgresql://${DB_USER}:${DB_PASSWORD}@127.0.0.1:${port}/${DB_NAME}"
say "PostGIS is ready at ${url}"
echo "export GISAPP_TEST_POSTGRES_URL=${url}" >&3
