"""The base layer: what every stage shares and nothing else.

Errors, geometry helpers (UTM zones, areas), the spectral vocabulary (band names,
indices), robust statistics and IR-MAD, content keys, atomic output writing, stage
progress, model metadata, defaults and the shared choices (`vocab`). It imports no
imaging, database or web library, so the CLI can read it without loading them.
"""
