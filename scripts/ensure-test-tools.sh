#!/bin/sh
# Debian packages the tests drive: Chromium (the workbench's browser tests, through
# Playwright; its own browser download cannot be used offline), Pango (WeasyPrint's
# evidence brief) and poppler-utils (pdftoppm renders the brief's pages). Does nothing
# when they are installed already.
set -e
if command -v chromium >/dev/null 2>&1 && command -v pdftoppm >/dev/null 2>&1 \
   && ls /usr/lib/*/libpango-1.0.so.0 >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "error: Chromium, Pango or poppler-utils is missing; install the Debian packages chromium," \
       "libpango-1.0-0, libpangoft2-1.0-0 and poppler-utils (as root), then run make test again" >&2
  exit 1
fi
echo "installing Chromium, Pango and poppler-utils (Debian packages)..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium libpango-1.0-0 libpangoft2-1.0-0 poppler-utils fonts-dejavu-core >/dev/null
