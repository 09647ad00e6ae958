"""Events: change regions as measured, dated, classified polygons, and their export."""

from sitewatch.events.export import EXPORT_FORMATS, events_frame, events_geojson, write_events
from sitewatch.events.extract import Event, extract_events
from sitewatch.events.kind import KIND_LABELS, KINDS, classify, spectral_evidence

__all__ = [
    "EXPORT_FORMATS",
    "KINDS",
    "KIND_LABELS",
    "Event",
    "classify",
    "events_frame",
    "events_geojson",
    "extract_events",
    "spectral_evidence",
    "write_events",
]
