"""The learned change detector: a small U-Net run through ONNX Runtime, tiled over any image.

No PyTorch here: the network was trained with `python -m sitewatch.train` and exported to
ONNX with everything needed to use it in its metadata (bands in order, probability
threshold and minimum region size chosen on its training cities, training cities and
command, and whether both dates are first matched radiometrically by
`sitewatch.pair_radiometry`, done here over the whole image before tiling so every tile
sees the same matching). Images larger than a tile are cut into overlapping tiles whose
predictions are blended with weights that fall to the tile edges, so no seams show.

Which model runs depends on the bands: the 10-band Sentinel-2 model when the image has
those bands, the RGB+NIR model for 4-band commercial or aerial imagery; anything else is
refused with a message saying which bands are missing, rather than fed to a network that
was never trained on it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np

from sitewatch.errors import InputError
from sitewatch.pair_radiometry import METHOD as PAIR_MATCHING
from sitewatch.pair_radiometry import match_pair

MODELS_DIR = Path(__file__).parent / "models"
#: Shipped models, preferred first: each runs when the image has all of its bands.
SHIPPED_MODELS = ("oscd-s2.onnx", "oscd-rgbn.onnx")
DEFAULT_TILE = 256
DEFAULT_OVERLAP = 32


@dataclass(frozen=True)
class ChangeModel:
    """An exported change network and what its metadata says about using it."""

    path: Path
    bands: tuple[str, ...]
    threshold: float
    min_region_px: int
    pixel_size_m: float
    size_multiple: int
    pair_radiometry: str  # "none", or "pair-median-iqr": dates matched (sitewatch.pair_radiometry) before the net
    metadata: dict[str, str] = field(compare=False, hash=False, repr=False)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def train_cities(self) -> list[str]:
        return json.loads(self.metadata.get("train_cities", "[]"))

    def describe(self) -> dict[str, object]:
        return {
            "model": self.name,
            "sha256_prefix": _sha256(self.path)[:16],
            "bands": list(self.bands),
            "train_cities": self.train_cities,
        }


@cache
def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


@cache
def _session(path: Path):  # -> onnxruntime.InferenceSession
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def load_model(path: str | os.PathLike[str]) -> ChangeModel:
    """Open an ONNX change model, checking that it is one of ours."""
    path = Path(path).resolve()
    if not path.is_file():
        raise InputError(f"{path}: no such model file; give an .onnx file made by `python -m sitewatch.train`")
    try:
        meta = dict(_session(path).get_modelmeta().custom_metadata_map)
    except Exception as exc:  # onnxruntime raises its own exception types for unreadable files
        raise InputError(f"{path}: not a readable ONNX model ({type(exc).__name__}); re-export it") from exc
    if meta.get("sitewatch_model") is None or "bands" not in meta:
        raise InputError(f"{path}: an ONNX model without sitewatch metadata; train it with `python -m sitewatch.train`")
    return ChangeModel(
        path=path,
        bands=tuple(json.loads(meta["bands"])),
        threshold=float(meta["threshold"]),
        min_region_px=int(meta.get("min_region_px", "1")),
        pixel_size_m=float(meta.get("pixel_size_m", "10")),
        size_multiple=int(meta.get("size_multiple", "8")),
        pair_radiometry=meta.get("pair_radiometry", "none"),
        metadata=meta,
    )


def choose_model(available: list[str], model_path: str | os.PathLike[str] | None = None) -> ChangeModel:
    """The given model, or the first shipped one whose bands the image has."""
    if model_path is not None:
        model = load_model(model_path)
        missing = [b for b in model.bands if b not in available]
        if missing:
            raise InputError(
                f"{model.name} needs bands {', '.join(missing)}, which the image lacks (it has {', '.join(available)})"
            )
        return model
    candidates = [load_model(MODELS_DIR / name) for name in SHIPPED_MODELS if (MODELS_DIR / name).is_file()]
    for model in candidates:
        if all(b in available for b in model.bands):
            return model
    needs = " or ".join("(" + ", ".join(m.bands) + ")" for m in candidates) or "a shipped model"
    raise InputError(
        f"the learned detector needs the bands {needs}; the images have {', '.join(available)}. "
        "Name the bands (e.g. a 4-band file as blue, green, red, nir) or use --method cva"
    )


def _positions(length: int, tile: int, step: int) -> list[int]:
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile + 1, step))
    if starts[-1] != length - tile:
        starts.append(length - tile)
    return starts


def blend_weights(tile: int, overlap: int) -> np.ndarray:
    """(tile, tile) weights falling linearly to the edges over `overlap` pixels (never 0)."""
    ramp = np.ones(tile, dtype="float32")
    if overlap > 0:
        edge = (np.arange(overlap, dtype="float32") + 0.5) / overlap
        ramp[:overlap] = np.minimum(ramp[:overlap], edge)
        ramp[-overlap:] = np.minimum(ramp[-overlap:], edge[::-1])
    return np.outer(ramp, ramp)


def _pad_to(values: np.ndarray, height: int, width: int) -> np.ndarray:
    pad_y, pad_x = height - values.shape[1], width - values.shape[2]
    if pad_y == 0 and pad_x == 0:
        return values
    small = pad_y >= values.shape[1] or pad_x >= values.shape[2]
    return np.pad(values, ((0, 0), (0, pad_y), (0, pad_x)), mode="edge" if small else "reflect")


def learned_score(
    before: np.ndarray,
    after: np.ndarray,
    model: ChangeModel,
    *,
    tile: int = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
    batch: int = 4,
) -> np.ndarray:
    """Change probability (y, x) of two (band, y, x) arrays in the model's band order; NaN = no data."""
    if tile % model.size_multiple:
        raise ValueError(f"tile {tile} is not a multiple of {model.size_multiple}")
    nodata = ~(np.isfinite(before).all(axis=0) & np.isfinite(after).all(axis=0))
    if model.pair_radiometry == PAIR_MATCHING:
        before, after = match_pair(before, after)
    elif model.pair_radiometry != "none":
        raise InputError(f"{model.name}: unknown pair_radiometry {model.pair_radiometry!r}; update sitewatch")
    b = np.nan_to_num(before.astype("float32", copy=False), nan=0.0)
    a = np.nan_to_num(after.astype("float32", copy=False), nan=0.0)
    h, w = b.shape[1:]
    m = model.size_multiple
    full_h, full_w = max(tile, -(-h // m) * m), max(tile, -(-w // m) * m)
    if h <= tile and w <= tile:  # one tile: run the image whole, padded to the size multiple
        full_h, full_w = -(-h // m) * m, -(-w // m) * m
    b, a = _pad_to(b, full_h, full_w), _pad_to(a, full_h, full_w)
    size_y, size_x = min(tile, full_h), min(tile, full_w)
    weights = (
        blend_weights(tile, overlap)[:size_y, :size_x]
        if size_y == size_x == tile
        else np.ones((size_y, size_x), "float32")
    )
    total = np.zeros((full_h, full_w), dtype="float32")
    weight_sum = np.zeros_like(total)
    origins = [
        (y, x) for y in _positions(full_h, size_y, tile - overlap) for x in _positions(full_w, size_x, tile - overlap)
    ]
    session = _session(model.path)
    for i in range(0, len(origins), batch):
        chunk = origins[i : i + batch]
        tb = np.stack([b[:, y : y + size_y, x : x + size_x] for y, x in chunk])
        ta = np.stack([a[:, y : y + size_y, x : x + size_x] for y, x in chunk])
        (prob,) = session.run(None, {"before": tb, "after": ta})
        for (y, x), p in zip(chunk, prob, strict=True):
            total[y : y + size_y, x : x + size_x] += p * weights
            weight_sum[y : y + size_y, x : x + size_x] += weights
    score = (total / weight_sum)[:h, :w]
    score[nodata] = np.nan
    return score
