#!/bin/sh
# MapLibre GL JS for the workbench, from the npm registry, into the package (nothing is
# fetched when the workbench runs). Run it to move to another version, then commit the files.
set -e
VERSION=${1:-4.7.1}
DEST="$(dirname "$0")/../src/sitewatch/web/static/vendor/maplibre-gl"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && npm pack --silent "maplibre-gl@$VERSION" >/dev/null && tar xzf maplibre-gl-*.tgz)
mkdir -p "$DEST"
# the CSP build: its worker is a file of our own origin, so the pages need no blob: scripts
for name in maplibre-gl-csp.js maplibre-gl-csp-worker.js maplibre-gl.css LICENSE.txt; do
  cp "$WORK/package/dist/$name" "$DEST/$name"
done
echo "maplibre-gl $VERSION" > "$DEST/VERSION"
(cd "$DEST" && sha256sum maplibre-gl-csp.js maplibre-gl-csp-worker.js maplibre-gl.css > SHA256SUMS)
echo "MapLibre GL JS $VERSION in $DEST"
