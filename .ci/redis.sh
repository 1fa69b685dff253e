#!/usr/bin/env bash
# Start a Redis server for the job-queue tests: installs the Debian package redis-server
# when missing, then starts it on port 6390 (no snapshots, no append-only file) unless one
# already answers there. Safe to run again.
#
#   bash .ci/redis.sh && export GISAPP_TEST_REDIS_URL=redis://localhost:6390/0
set -euo pipefail

PORT="${GISAPP_TEST_REDIS_PORT:-6390}"

if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  echo "Installing system package: redis-server"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
fi

if redis-cli -p "$PORT" ping 2>/dev/null | grep -q PONG; then
  echo "Redis already answers on port $PORT"
  exit 0
fi

redis-server --daemonize yes --port "$PORT" --save '' --appendonly no
for _ in $(seq 1 50); do
  if redis-cli -p "$PORT" ping 2>/dev/null | grep -q PONG; then
    echo "Redis started on port $PORT"
    exit 0
  fi
  sleep 0.1
done
echo "Redis did not start on port $PORT" >&2
exit 1
