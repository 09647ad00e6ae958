#!/bin/sh
# Debian's Chromium for the browser tests of the web workbench (Playwright drives it; its own
# browser download cannot be used offline). Does nothing when it is installed already.
set -e
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "error: Chromium is missing; install the Debian package chromium (as root)," \
       "then run make test again" >&2
  exit 1
fi
echo "installing Chromium (Debian package)..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
