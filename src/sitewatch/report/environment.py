"""The one Jinja2 environment of every report: package templates, HTML autoescaping on.

Autoescaping is what keeps an analyst's site name or note inert in a report, so every
template is rendered through this environment and no other.
"""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, select_autoescape

environment = Environment(
    loader=PackageLoader("sitewatch", "report/templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
