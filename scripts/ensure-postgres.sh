#!/bin/sh
# PostgreSQL with PostGIS, from Debian packages, for the tests that start a real STAC API
# server (stac-fastapi-pgstac). Does nothing when both are installed already.
set -e
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
   && ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "error: PostgreSQL with PostGIS is missing; install the Debian packages postgresql and" \
       "postgresql-<version>-postgis-3 (as root), then run make test again" >&2
  exit 1
fi
echo "installing PostgreSQL and PostGIS (Debian packages)..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq postgresql >/dev/null
version=$(ls /usr/lib/postgresql | sort -n | tail -1)
apt-get install -y -qq "postgresql-$version-postgis-3" >/dev/null
