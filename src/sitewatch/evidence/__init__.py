"""Evidence others can check: a signed BagIt bundle per finding, and its verification.

A bundle holds the change polygons with their area uncertainty, chips of every look as
COGs, a STAC Item per scene used (with the SHA-256 of what was read), the run's
parameters, software version and the command that reproduces it; its BagIt manifests give
every file's SHA-256 and an Ed25519 signature covers the manifests.
"""
