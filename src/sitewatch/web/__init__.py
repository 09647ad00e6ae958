"""The analyst's workbench: `sitewatch serve`, a web app on the same store the CLI uses.

Pages are rendered on the server (Jinja2, everything escaped) with a little JavaScript of
our own for the maps (MapLibre GL JS, shipped in `static/vendor`). Imagery tiles and chips
come from the looks each stored run keeps (`sitewatch.report.looks`), read with rio-tiler.
"""

from sitewatch.web.app import create_app

__all__ = ["create_app"]
