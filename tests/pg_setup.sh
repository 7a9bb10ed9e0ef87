#!/usr/bin/env bash
# Installs PostgreSQL + PostGIS from Debian's packages, starts the cluster (no systemd needed) and creates
# the role/database the PostGIS tests use: postgresql://gis:gis@127.0.0.1:5432/gis (the default of
# GIS_POSTGIS_DSN in tests/conftest.py). Safe to run again; runs as root (or with sudo).
set -euo pipefail

PG_USER="${GIS_PG_USER:-gis}"
PG_PASS="${GIS_PG_PASSWORD:-gis}"
PG_DB="${GIS_PG_DB:-gis}"
PG_PORT="${GIS_PG_PORT:-5432}"

SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"

if ! command -v apt-get >/dev/null 2>&1; then
  echo "warning: no apt-get; install PostgreSQL + PostGIS yourself and set GIS_POSTGIS_DSN" >&2
  exit 0
fi

need=""
# the server itself (a machine may have only the client, psql, and postgresql-common's pg_ctlcluster)
if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  need="postgresql"
fi
if ! ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1; then
  need="$need postgis"
fi
if [ -n "$need" ]; then
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
  # postgresql-postgis is the extension (postgresql-NN-postgis-3) for the distribution's server version;
  # the postgis package itself only recommends it.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
    postgresql postgresql-postgis postgis >/dev/null
fi

# The server version the extension was installed for (newest one that has postgis).
ver=""
for control in /usr/share/postgresql/*/extension/postgis.control; do
  v="$(basename "$(dirname "$(dirname "$control")")")"
  if [ -z "$ver" ] || [ "$v" -gt "$ver" ]; then ver="$v"; fi
done
if [ -z "$ver" ]; then
  echo "error: PostGIS extension not found after install" >&2
  exit 1
fi

if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -qx "$ver main"; then
  $SUDO pg_createcluster "$ver" main --port "$PG_PORT" >/dev/null
fi
if ! pg_lsclusters -h | awk -v v="$ver" '$1==v && $2=="main" {print $4}' | grep -q online; then
  $SUDO pg_ctlcluster "$ver" main start
fi

# Wait until the server accepts connections (up to 30 s).
for _ in $(seq 1 30); do
  if $SUDO -u postgres psql -p "$PG_PORT" -qAtc "select 1" >/dev/null 2>&1 \
     || su postgres -c "psql -p $PG_PORT -qAtc 'select 1'" >/dev/null 2>&1; then
    break
  fi
  sleep 1
done

as_postgres() {  # run psql as the postgres superuser, with or without sudo
  if [ "$(id -u)" -eq 0 ]; then
    su postgres -s /bin/sh -c "psql -p $PG_PORT -v ON_ERROR_STOP=1 -qAt $*"
  else
    sudo -u postgres psql -p "$PG_PORT" -v ON_ERROR_STOP=1 -qAt "$@"
  fi
}

if [ "$(as_postgres "-c \"select 1 from pg_roles where rolname='$PG_USER'\"")" != "1" ]; then
  as_postgres "-c \"create role $PG_USER login password '$PG_PASS'\""
fi
if [ "$(as_postgres "-c \"select 1 from pg_database where datname='$PG_DB'\"")" != "1" ]; then
  as_postgres "-c \"create database $PG_DB owner $PG_USER\""
fi
as_postgres "-d $PG_DB -c \"set client_min_messages = warning\" -c \"create extension if not exists postgis\""

echo "PostGIS ready: postgresql://$PG_USER:***@127.0.0.1:$PG_PORT/$PG_DB"
