from sitewatch.events import classify, spectral_evidence

# Mean reflectances (x10000) of typical surfaces, Sentinel-2 L1C-like.
VEGETATION = {"blue": 700, "green": 900, "red": 700, "nir": 3500, "swir16": 1800, "swir22": 900}
BARE_SOIL = {"blue": 1200, "green": 1500, "red": 1900, "nir": 2400, "swir16": 3200, "swir22": 2600}
METAL_ROOF = {"blue": 2600, "green": 2700, "red": 2800, "nir": 3000, "swir16": 2600, "swir22": 2200}
WATER = {"blue": 900, "green": 800, "red": 500, "nir": 300, "swir16": 150, "swir22": 100}
DRY_GRASS = {"blue": 900, "green": 1100, "red": 1300, "nir": 2200, "swir16": 2600, "swir22": 2000}
ASPHALT = {"blue": 1000, "green": 1050, "red": 1100, "nir": 1300, "swir16": 1500, "swir22": 1300}


def _kind(before, after, scene=0.0):
    return classify(spectral_evidence(before, after, scene))


def test_kinds_of_typical_transitions():
    assert _kind(VEGETATION, BARE_SOIL) == "earthworks"
    assert _kind(BARE_SOIL, METAL_ROOF) == "built_up_gain"
    assert _kind(ASPHALT, METAL_ROOF) == "built_up_gain"
    assert _kind(WATER, BARE_SOIL) == "water"
    assert _kind(VEGETATION, DRY_GRASS) == "vegetation_loss"
    assert _kind(ASPHALT, VEGETATION) == "vegetation_gain"
    assert _kind(ASPHALT, ASPHALT) == "other"


def test_brightness_is_judged_against_the_scene():
    # A roof that brightens exactly as much as the whole scene is not a new roof.
    brighter = {k: v * 1.5 for k, v in ASPHALT.items()}
    assert _kind(ASPHALT, brighter, scene=0.0) == "built_up_gain"
    assert _kind(ASPHALT, brighter, scene=0.405) == "other"


def test_missing_bands_limit_the_guess():
    rgb = {k: VEGETATION[k] for k in ("blue", "green", "red")}
    evidence = spectral_evidence(rgb, {k: METAL_ROOF[k] for k in ("blue", "green", "red")})
    assert "ndvi_change" not in evidence and "brightness_log_ratio_vs_scene" in evidence
    assert classify(evidence) == "built_up_gain"
