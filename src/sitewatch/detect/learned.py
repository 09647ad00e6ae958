"""The learned change detector: small U-Nets run through ONNX Runtime, tiled over any image.

No PyTorch here: the networks were trained with `sitewatch model` and exported
to ONNX with everything needed to use them in the metadata (bands in order, probability
threshold and minimum region size chosen on the training cities, training cities and
command, and whether both dates are first matched radiometrically by
`sitewatch.base.pair_radiometry`, done here over the whole image before tiling so every tile
sees the same matching). A file may hold several networks averaged
(`sitewatch.modelops.ensemble`); members trained on matched pairs read the graph inputs
`before_matched`/`after_matched`, which are filled whenever a graph has them. Images
larger than a tile are cut into even, overlapping tiles whose predictions are blended
with weights that fall to the tile edges, so no seams show.

Tiles run side by side, one per core, each in a single-threaded ONNX Runtime session,
rather than one at a time with every core on each operator: these small networks are
many short operators, and splitting each across cores cost more in synchronisation than
it gained (OSCD Beirut ran in 0.8 of the time on 2 cores; model card, Speed). So an image
is cut into at least as many tiles as there are cores when it is large enough to share.

Which model runs depends on the bands: the first shipped model whose bands the image has.
The one shipped now reads blue, green, red and NIR (it generalised to unseen OSCD cities
better than the 10-band recipes), so it serves Sentinel-2 and 4-band commercial or aerial
imagery alike; anything else is refused with a message saying which bands are missing,
rather than fed to a network that was never trained on it.
"""

from __future__ import annotations

import hashlib
import math
import os
import platform
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import onnxruntime as ort

from sitewatch.base.cores import usable_cores
from sitewatch.base.errors import InputError
from sitewatch.base.model_metadata import ModelMetadata
from sitewatch.base.pair_radiometry import METHOD as PAIR_MATCHING
from sitewatch.base.pair_radiometry import match_pair

MODELS_DIR = Path(__file__).parent / "models"
#: Shipped models, preferred first: each runs when the image has all of its bands.
SHIPPED_MODELS = ("oscd-rgbn.onnx",)
#: The shipped model trained without the fixed-split test cities (`bench oscd --cv fixed`, tests).
FIXED_SPLIT_MODEL = MODELS_DIR / "oscd-rgbn-fixed.onnx"
#: Largest tile side: tiles are sized evenly up to it (see tile_grid); 0.1-0.2 GB of activations per tile running.
DEFAULT_TILE = 512
DEFAULT_OVERLAP = 32
#: Graph inputs of ensemble members trained on matched pairs (`sitewatch.modelops.ensemble`).
MATCHED_INPUTS = ("before_matched", "after_matched")


@dataclass(frozen=True)
class ChangeModel:
    """An exported change network and what its metadata says about using it."""

    path: Path
    meta: ModelMetadata = field(compare=False, hash=False, repr=False)  # what the file says; the rest derives

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def bands(self) -> tuple[str, ...]:
        return self.meta.bands

    @property
    def threshold(self) -> float:
        return self.meta.threshold

    @property
    def min_region_px(self) -> int:
        return self.meta.min_region_px

    @property
    def pixel_size_m(self) -> float:
        return self.meta.pixel_size_m

    @property
    def size_multiple(self) -> int:
        return self.meta.size_multiple

    @property
    def pair_radiometry(self) -> str:
        """ "none", or "pair-median-iqr": dates matched (base.pair_radiometry) before the network."""
        return self.meta.pair_radiometry

    @property
    def metadata(self) -> dict[str, str]:
        """The file's metadata as the flat string map ONNX stores."""
        return self.meta.to_props()

    @property
    def train_cities(self) -> list[str]:
        return list(self.meta.train_cities)

    @property
    def members(self) -> list[dict[str, str]]:
        """What each averaged member was (`sitewatch.modelops.ensemble`); empty for a single network."""
        return list(self.meta.members)

    def describe(self) -> dict[str, object]:
        return {
            "model": self.name,
            "sha256_prefix": _sha256(self.path)[:16],
            "bands": list(self.bands),
            "train_cities": self.train_cities,
            "members": len(self.members) or 1,
        }


@cache
def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def shipped_checksums() -> dict[str, str]:
    """File name -> SHA-256 of the models shipped in the package (`models/SHA256SUMS`)."""
    lines = (MODELS_DIR / "SHA256SUMS").read_text().splitlines()
    return {name: digest for digest, name in (line.split() for line in lines if line.strip())}


def check_shipped(path: Path) -> None:
    """Refuse a shipped model whose bytes are not the ones released (a damaged or altered install)."""
    expected = shipped_checksums().get(path.name)
    if path.parent == MODELS_DIR and expected is not None and _sha256(path) != expected:
        raise InputError(f"{path}: its SHA-256 is not the one shipped (models/SHA256SUMS); reinstall sitewatch")


def cpu_session(model: Path | bytes, threads: int):  # -> onnxruntime.InferenceSession
    """An ONNX Runtime session on the CPU of a model file or serialised graph, quiet but for errors."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


@cache
def _session(path: Path, threads: int = 1):  # -> onnxruntime.InferenceSession
    """A cached session of `path`; one with `threads` = 1 is shared by the tiles run side by side."""
    return cpu_session(path, threads)


def load_model(path: str | os.PathLike[str]) -> ChangeModel:
    """Open an ONNX change model, checking that it is one of ours."""
    path = Path(path).resolve()
    if not path.is_file():
        raise InputError(f"{path}: no such model file; give an .onnx file made by `sitewatch model`")
    check_shipped(path)
    try:
        props = dict(_session(path).get_modelmeta().custom_metadata_map)
    except Exception as exc:  # onnxruntime raises its own exception types for unreadable files
        raise InputError(f"{path}: not a readable ONNX model ({type(exc).__name__}); re-export it") from exc
    try:
        meta = ModelMetadata.from_props(props)
    except (KeyError, ValueError) as exc:
        raise InputError(
            f"{path}: an ONNX model without sitewatch metadata; train it with `sitewatch model fit`"
        ) from exc
    return ChangeModel(path, meta)


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


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


@dataclass(frozen=True)
class TileGrid:
    """Tile size and starts along y and x; every tile has the same size."""

    size_y: int
    starts_y: list[int]
    size_x: int
    starts_x: list[int]

    @property
    def origins(self) -> list[tuple[int, int]]:
        return [(y, x) for y in self.starts_y for x in self.starts_x]


def _even_tiles(length: int, count: int, overlap: int, multiple: int) -> tuple[int, list[int]]:
    """`count` tiles of one size (a multiple of `multiple`) covering `length`, overlapping by >= `overlap`."""
    if count == 1:
        return length, [0]
    size = _round_up(math.ceil((length + (count - 1) * overlap) / count), multiple)
    return size, [round(i * (length - size) / (count - 1)) for i in range(count)]


def tile_layout(length: int, tile: int, overlap: int, multiple: int) -> tuple[int, list[int]]:
    """Tile size and starts along one axis: as few tiles as fit, all the same size, overlapping by >= `overlap`.

    Tiles are sized to the image rather than fixed: a 1,180 px axis in fixed 256 px tiles
    overlapping by 32 ran 1,536 px of network; in three even tiles of 416 px (at most 512)
    it runs 1,248.
    Every tile has the same size (a multiple of `multiple`), so they batch together.
    """
    length = _round_up(length, multiple)
    if length <= tile:
        return length, [0]
    return _even_tiles(length, math.ceil((length - overlap) / (tile - overlap)), overlap, multiple)


def tile_grid(height: int, width: int, tile: int, overlap: int, multiple: int, workers: int) -> TileGrid:
    """The tiling of a (height, width) image that `workers` tiles at a time finish soonest.

    Tiles are no larger than `tile` and overlap by at least `overlap`. Run side by side,
    the work is the number of rounds (tiles / workers, rounded up) times the tile area: a
    1,180 x 1,070 px image in 3 x 3 tiles of 416 x 384 takes 5 rounds on 2 cores, in
    4 x 3 tiles of 320 x 384 it takes 6 shorter ones, 8 % less network. An image of one
    tile is split so each worker has a part, unless the parts would be mostly overlap
    (under four overlaps wide). Without overlap, tiles would butt with seams, so an image
    gets no more than the fewest tiles.
    """
    rows, cols = _round_up(height, multiple), _round_up(width, multiple)
    fewest_y = len(tile_layout(height, tile, overlap, multiple)[1])
    fewest_x = len(tile_layout(width, tile, overlap, multiple)[1])
    extra = workers if overlap > 0 else 0
    best: tuple[int, int, TileGrid] | None = None
    for count_y in range(fewest_y, fewest_y + extra + 1):
        for count_x in range(fewest_x, fewest_x + extra + 1):
            grid = TileGrid(
                *_even_tiles(rows, count_y, overlap, multiple), *_even_tiles(cols, count_x, overlap, multiple)
            )
            if min(grid.size_y, grid.size_x) < 4 * overlap and count_y * count_x > fewest_y * fewest_x:
                continue  # slivers: mostly overlap
            work = -(-count_y * count_x // workers) * grid.size_y * grid.size_x
            if best is None or (work, count_y * count_x) < best[:2]:
                best = (work, count_y * count_x, grid)
    assert best is not None
    return best[2]


def blend_weights(height: int, width: int, overlap: int) -> np.ndarray:
    """(height, width) weights falling linearly to the edges over `overlap` pixels (never 0)."""

    def ramp(n: int) -> np.ndarray:
        out = np.ones(n, dtype="float32")
        if overlap > 0:
            edge = (np.arange(overlap, dtype="float32") + 0.5) / overlap
            out[:overlap] = np.minimum(out[:overlap], edge)
            out[-overlap:] = np.minimum(out[-overlap:], edge[::-1])
        return out

    return np.outer(ramp(height), ramp(width))


def _pad_to(values: np.ndarray, height: int, width: int) -> np.ndarray:
    pad_y, pad_x = height - values.shape[1], width - values.shape[2]
    if pad_y == 0 and pad_x == 0:
        return values
    small = pad_y >= values.shape[1] or pad_x >= values.shape[2]
    return np.pad(values, ((0, 0), (0, pad_y), (0, pad_x)), mode="edge" if small else "reflect")


def input_names(model: ChangeModel) -> set[str]:
    """The model graph's inputs: before/after, and for ensembles with matched members *_matched too."""
    return {i.name for i in _session(model.path).get_inputs()}


def graph_inputs(before: np.ndarray, after: np.ndarray, model: ChangeModel, names: set[str]) -> dict[str, np.ndarray]:
    """The arrays a model's graph inputs `names` take for two (band, y, x) dates: float32, no data as 0.

    `before`/`after` are the dates as given, or matched (`sitewatch.base.pair_radiometry`) for a
    single model trained on matched pairs; `before_matched`/`after_matched` always matched.
    No data becomes 0 first, which matching also treats as no data, so it stays 0.
    """
    if model.pair_radiometry not in ("none", PAIR_MATCHING):
        raise InputError(f"{model.name}: unknown pair_radiometry {model.pair_radiometry!r}; update sitewatch")
    plain = (
        np.nan_to_num(before.astype("float32", copy=False), nan=0.0),
        np.nan_to_num(after.astype("float32", copy=False), nan=0.0),
    )
    matched = None
    if model.pair_radiometry == PAIR_MATCHING or names & set(MATCHED_INPUTS):
        matched = match_pair(*plain)
    if model.pair_radiometry == PAIR_MATCHING:
        plain = matched
    dates = {"before": plain[0], "after": plain[1], **dict(zip(MATCHED_INPUTS, matched or (), strict=False))}
    return {name: dates[name] for name in names}


@cache
def cpu_lacks_vnni() -> bool:
    """True on an x86 Linux CPU without VNNI (AVX2 or AVX-512F only), where 8-bit int8 weights saturate.

    Only Linux says so cheaply (/proc/cpuinfo); elsewhere this answers False.
    """
    if platform.machine().lower() not in ("x86_64", "amd64") or not Path("/proc/cpuinfo").is_file():
        return False
    flags = Path("/proc/cpuinfo").read_text(errors="replace")
    return "vnni" not in flags


def check_runs_here(model: ChangeModel) -> None:
    """Refuse an int8 file with 8-bit weights on a CPU that would compute it wrongly.

    Such files (`ensemble --int8` before 2026-11-28, evening) are right on CPUs with VNNI;
    without it onnxruntime's integer convolutions saturate (the shipped ensemble fell from
    F1 0.59 to 0.18). `sitewatch model narrow` rewrites them with 7-bit weights.
    """
    if model.meta.weights == "int8" and model.meta.weight_bits != 7 and cpu_lacks_vnni():
        raise InputError(
            f"{model.path}: int8 model with 8-bit weights, which this CPU (no VNNI) computes wrongly; "
            f"rewrite it with `sitewatch model narrow TRAINING.npz {model.path} --out DIR`"
        )


def learned_score(
    before: np.ndarray,
    after: np.ndarray,
    model: ChangeModel,
    *,
    tile: int = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
    workers: int | None = None,
    side_by_side: bool = True,
) -> np.ndarray:
    """Change probability (y, x) of two (band, y, x) arrays in the model's band order; NaN = no data.

    `workers` cores (default: all this process may use) run `workers` tiles at once, one
    each; with `side_by_side=False` (as before 2026-12-04, kept for `bench/throughput.py`),
    or when there are fewer tiles than cores, they run one tile at a time together.
    """
    check_runs_here(model)
    if tile % model.size_multiple:
        raise ValueError(f"tile {tile} is not a multiple of {model.size_multiple}")
    workers = max(1, workers or usable_cores())
    nodata = ~(np.isfinite(before).all(axis=0) & np.isfinite(after).all(axis=0))
    dates = graph_inputs(before, after, model, input_names(model))
    h, w = before.shape[1:]
    grid = tile_grid(h, w, tile, overlap, model.size_multiple, workers if side_by_side else 1)
    full_h, full_w = grid.starts_y[-1] + grid.size_y, grid.starts_x[-1] + grid.size_x
    inputs = {name: _pad_to(values, full_h, full_w) for name, values in dates.items()}
    origins = grid.origins
    at_once = workers if side_by_side and len(origins) >= workers else 1
    session = _session(model.path, 1 if at_once > 1 else workers)

    def predict(origin: tuple[int, int]) -> np.ndarray:
        y, x = origin
        feed = {name: values[None, :, y : y + grid.size_y, x : x + grid.size_x] for name, values in inputs.items()}
        return session.run(None, feed)[0][0]

    weights = blend_weights(grid.size_y, grid.size_x, overlap)
    total = np.zeros((full_h, full_w), dtype="float32")
    weight_sum = np.zeros_like(total)
    with ThreadPoolExecutor(at_once) as pool:  # onnxruntime releases the GIL while it runs
        for (y, x), prob in zip(origins, pool.map(predict, origins), strict=True):
            total[y : y + grid.size_y, x : x + grid.size_x] += prob * weights
            weight_sum[y : y + grid.size_y, x : x + grid.size_x] += weights
    score = (total / weight_sum)[:h, :w]
    score[nodata] = np.nan
    return score
