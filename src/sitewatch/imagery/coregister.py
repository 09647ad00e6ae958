"""Sub-pixel co-registration of each scene to a reference scene (phase correlation).

A shift of half a pixel between dates turns every edge (roads, roof lines) into a
"change". Each scene is matched to the reference on gradient magnitude (so that
brightness differences between dates matter less than where the edges are) with
scikit-image's phase correlation, upsampled to 1/20 px. Shifts up to `max_shift_px` are
corrected (bilinear, validity mask shifted with it); a scene whose shift is larger, or
whose correlation is too poor to trust, is flagged and left out rather than "fixed".
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.fft import fftn
from skimage.registration import phase_cross_correlation

from sitewatch.base.cores import usable_cores
from sitewatch.imagery.cube import SceneCube

#: Bands tried for matching, in order of preference (sharp 10 m edges first).
MATCH_BANDS = ("nir", "red", "green", "blue")
DEFAULT_MAX_SHIFT_PX = 1.5
#: Below this correlation of edge images after the shift, the match is not trusted.
MIN_EDGE_CORRELATION = 0.2


@dataclass
class Registration:
    shift_px: tuple[float, float]  # (dy, dx) to apply to the scene to match the reference
    correlation: float  # of the two edge images once shifted (1 = identical structure)
    ok: bool
    reason: str = ""


def _edges(image: np.ndarray) -> np.ndarray:
    filled = np.where(np.isfinite(image), image, np.nanmedian(image))
    return np.hypot(ndimage.sobel(filled, axis=0), ndimage.sobel(filled, axis=1))


@dataclass
class _Reference:
    """What every look is matched against, computed once per cube rather than once per look."""

    image: np.ndarray
    edges: np.ndarray
    spectrum: np.ndarray  # FFT of the edges, as phase correlation takes it

    @classmethod
    def of(cls, image: np.ndarray) -> _Reference:
        edges = _edges(image)
        return cls(image, edges, fftn(edges))


@dataclass
class _AxisStep:
    """Where each output index of one axis reads from when moved by `shift` (as ndimage computes it)."""

    start: np.ndarray  # first of the two source pixels, per output index
    weights: tuple[np.ndarray, np.ndarray]  # (1 - t, t), per output index
    inside: np.ndarray  # the source position lies on the image (mode "constant" zeroes the rest)

    @classmethod
    def of(cls, size: int, shift: float) -> _AxisStep:
        position = np.arange(size, dtype="float64") + (-shift)
        start = np.floor(position)
        fraction = position - start
        return cls(start.astype(np.int64), (1.0 - fraction, fraction), (position >= 0) & (position <= size - 1))


class BilinearShift:
    """Moves 2-D images of one shape by (dy, dx) px, bilinear, in float64.

    The same values as `scipy.ndimage.shift(order=1)` with mode "constant" (cval 0: no
    interpolation past the edge) or "nearest", to the last bit: the same per-pixel weights,
    summed in the same order, but from shifted slices of an edge-padded copy held in
    buffers reused from image to image. A look's 13 bands take a few milliseconds, where
    ndimage's general spline code took 150. NaN and infinity are read as 0, as
    `apply_shift` masks the pixels they reach anyway.
    """

    #: Whole pixels of padding; larger shifts get a wider copy.
    PAD = 4

    def __init__(self, shape: tuple[int, int]) -> None:
        self.shape = shape
        self._buffers: dict[int, tuple[np.ndarray, ...]] = {}

    def _for_pad(self, pad: int) -> tuple[np.ndarray, ...]:
        if pad not in self._buffers:
            h, w = self.shape
            self._buffers[pad] = (np.empty((h + 2 * pad, w + 2 * pad)), np.empty((h, w)), np.empty((h, w)))
        return self._buffers[pad]

    def __call__(self, image: np.ndarray, shift_px: tuple[float, float], outside: str = "constant") -> np.ndarray:
        """The moved image; a buffer overwritten by the next call."""
        h, w = self.shape
        rows, cols = _AxisStep.of(h, shift_px[0]), _AxisStep.of(w, shift_px[1])
        p = max(self.PAD, int(np.ceil(max(abs(shift_px[0]), abs(shift_px[1])))) + 2)
        padded, out, term = self._for_pad(p)
        inner = padded[p : p + h, p : p + w]
        inner[...] = image
        np.copyto(inner, 0.0, where=~np.isfinite(inner))
        padded[:p, p : p + w] = padded[p, p : p + w]  # edge padding, as mode="nearest" reads past the edge
        padded[p + h :, p : p + w] = padded[p + h - 1, p : p + w]
        padded[:, :p] = padded[:, p : p + 1]
        padded[:, p + w :] = padded[:, p + w - 1 : p + w]
        row_sources = [self._along(padded, rows.start + p + k, axis=0) for k in (0, 1)]
        for i, (row_weight, sources) in enumerate(zip(rows.weights, row_sources, strict=True)):
            for j, col_weight in enumerate(cols.weights):
                source = self._along(sources, cols.start + p + j, axis=1)
                target = out if i == j == 0 else term
                np.multiply(source, row_weight[:, None], out=target)  # value · w_y · w_x, as ndimage multiplies
                target *= col_weight[None, :]
                if target is term:
                    out += term  # summed (0,0), (0,1), (1,0), (1,1), as ndimage sums
        if outside == "constant":
            out[~rows.inside, :] = 0.0
            out[:, ~cols.inside] = 0.0
        return out

    @staticmethod
    def _along(array: np.ndarray, index: np.ndarray, axis: int) -> np.ndarray:
        """`array` at `index` along `axis`: a slice (a view) when the indices run on one by one."""
        if (np.diff(index) == 1).all():
            return array[index[0] : index[-1] + 1] if axis == 0 else array[:, index[0] : index[-1] + 1]
        return np.take(array, index, axis=axis)


def estimate_shift(
    reference: np.ndarray | _Reference, moving: np.ndarray, max_shift_px: float = DEFAULT_MAX_SHIFT_PX
) -> Registration:
    """Shift that moves `moving` onto `reference` (2-D arrays of one band, NaN = no data)."""
    ref = reference if isinstance(reference, _Reference) else _Reference.of(reference)
    if np.isfinite(moving).mean() < 0.2 or np.isfinite(ref.image).mean() < 0.2:
        return Registration((0.0, 0.0), 1.0, False, "too little clear area to register")
    moving_edges = _edges(moving)
    shift, _, _ = phase_cross_correlation(ref.spectrum, fftn(moving_edges), upsample_factor=20, space="fourier")
    dy, dx = float(shift[0]), float(shift[1])
    moved = BilinearShift(moving_edges.shape)(moving_edges, (dy, dx), outside="nearest")
    both = np.isfinite(ref.image) & np.isfinite(moving)
    correlation = float(np.corrcoef(ref.edges[both], moved[both])[0, 1]) if both.sum() > 10 else 0.0
    if not np.isfinite(correlation) or correlation < MIN_EDGE_CORRELATION:
        return Registration((dy, dx), correlation, False, f"no reliable match (edge correlation {correlation:.2f})")
    if np.hypot(dy, dx) > max_shift_px:
        return Registration(
            (dy, dx), correlation, False, f"shift {np.hypot(dy, dx):.2f} px exceeds {max_shift_px:g} px"
        )
    return Registration((dy, dx), correlation, True)


def apply_shift(
    image: np.ndarray,
    shift_px: tuple[float, float],
    out: np.ndarray | None = None,
    shifter: BilinearShift | None = None,
) -> np.ndarray:
    """(band, y, x) image moved by (dy, dx) px, bilinear; pixels shifted in from outside are NaN.

    `out` may be `image` itself (each band is copied before it is overwritten); `shifter`
    lends its buffers, so a thread shifting look after look allocates nothing.
    """
    valid = np.isfinite(image).all(axis=0)
    out = np.empty(image.shape, dtype=image.dtype) if out is None else out
    shifter = shifter or BilinearShift(image.shape[1:])
    moved_valid = shifter(valid, shift_px) > 0.999
    for band in range(image.shape[0]):  # band by band: the float64 working copies stay in the cache
        out[band] = shifter(image[band], shift_px)
        out[band][~moved_valid] = np.nan
    return out


def coregister(cube: SceneCube, reference: int | None = None, max_shift_px: float = DEFAULT_MAX_SHIFT_PX) -> SceneCube:
    """Every scene shifted onto the reference (the clearest scene by default); misfits dropped with a note.

    Looks are matched and shifted side by side, one thread per core (FFTs and array
    arithmetic release the GIL), each in place in the cube.
    """
    band = next((b for b in MATCH_BANDS if b in cube.bands), cube.bands[0])
    values = cube.data.values
    ref_index = int(np.argmax(cube.valid_fractions())) if reference is None else reference
    ref = _Reference.of(values[ref_index, cube.bands.index(band)])
    results: dict[int, Registration] = {}
    shifters = threading.local()  # one set of shift buffers per thread

    def register(index: int) -> None:
        # Shifted in place: each look is read before it is overwritten and the reference never
        # moves, so a second cube-sized array is never needed.
        result = estimate_shift(ref, values[index, cube.bands.index(band)], max_shift_px)
        if result.ok and np.hypot(*result.shift_px) >= 0.05:
            if not hasattr(shifters, "shifter"):
                shifters.shifter = BilinearShift(values.shape[2:])
            apply_shift(values[index], result.shift_px, out=values[index], shifter=shifters.shifter)
        results[index] = result

    others = [index for index in range(len(cube)) if index != ref_index]
    with ThreadPoolExecutor(max_workers=max(1, min(usable_cores(), len(others)))) as pool:
        list(pool.map(register, others))
    keep = np.ones(len(cube), dtype=bool)
    for index, scene in enumerate(cube.scenes):
        if index == ref_index:
            scene.shift_px = (0.0, 0.0)
            scene.notes.append("co-registration reference")
            continue
        result = results[index]
        scene.shift_px = (round(result.shift_px[0], 3), round(result.shift_px[1], 3))
        if not result.ok:
            cube.drop(index, f"does not register to {cube.scenes[ref_index].id}: {result.reason}")
            keep[index] = False
            continue
        scene.notes.append(f"shifted by ({result.shift_px[0]:+.2f}, {result.shift_px[1]:+.2f}) px")
    return cube if keep.all() else cube.select(keep)
