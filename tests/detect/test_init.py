"""What importing the detection package costs the training code, and its public names."""

import subprocess
import sys


def test_the_training_post_processing_imports_without_the_imagery_stack() -> None:
    # Training post-processes as detection does (detect.cleanup); detection needs no GDAL,
    # so neither does that: rasterio, GeoPandas and odc load only with the imagery stack.
    code = (
        "import sys, sitewatch.train.postprocess, sitewatch.detect.cleanup\n"
        "heavy = sorted({'rasterio', 'geopandas', 'pyproj', 'odc'} & set(sys.modules))\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_names_still_import_from_the_package() -> None:
    from sitewatch.detect import METHODS, detect
    from sitewatch.detect.core import detect as core_detect

    assert detect is core_detect
    assert "learned" in METHODS
