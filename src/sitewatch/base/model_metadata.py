"""What a sitewatch change model says about itself, in the ONNX file's metadata.

Training writes it, graph tools (ensembles, int8, pruning) rewrite it, the detector reads
it: one type, so that a key, its format and its default are defined once. ONNX metadata
is a flat map of strings; `to_props` and `from_props` are the only places that know the
string forms. Keys this version does not know are kept verbatim (`extra`), so a file
rewritten by a tool loses nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

#: The keys given a type below; every other key travels in `extra`.
TYPED_KEYS = (
    "sitewatch_model",
    "bands",
    "threshold",
    "min_region_px",
    "pixel_size_m",
    "size_multiple",
    "pair_radiometry",
    "train_cities",
    "members",
    "weights",
    "weight_bits",
    "command",
)


@dataclass(frozen=True)
class ModelMetadata:
    """A change model's identity and how to use it."""

    kind: str  # "change-unet-ef", "change-unet-siam", "change-unet-ef-ensemble"
    bands: tuple[str, ...]  # STAC eo common names, in the order the network reads them
    threshold: float  # probability above which a pixel is changed
    min_region_px: int = 1  # smallest region kept, pixels at `pixel_size_m`
    pixel_size_m: float = 10.0
    size_multiple: int = 8  # tile sides must be multiples of this
    pair_radiometry: str = "none"  # "pair-median-iqr": both dates matched before the network
    train_cities: tuple[str, ...] = ()
    members: tuple[dict[str, str], ...] = ()  # an ensemble's members, as they described themselves
    weights: str = "float32"  # or "int8"
    weight_bits: int | None = None  # 7 for int8 files with weights narrowed to 7 bits
    command: str = ""  # the command that made the file
    extra: dict[str, str] = field(default_factory=dict)  # every other key, verbatim

    def to_props(self) -> dict[str, str]:
        """The flat string map written into the ONNX file."""
        props = {
            "sitewatch_model": self.kind,
            "bands": json.dumps(list(self.bands)),
            "threshold": str(self.threshold),
            "min_region_px": str(self.min_region_px),
            "pixel_size_m": f"{self.pixel_size_m:g}",
            "size_multiple": str(self.size_multiple),
            "pair_radiometry": self.pair_radiometry,
            "train_cities": json.dumps(list(self.train_cities)),
            "weights": self.weights,
            "command": self.command,
        }
        if self.members:
            props["members"] = json.dumps(list(self.members))
        if self.weight_bits is not None:
            props["weight_bits"] = str(self.weight_bits)
        return {**self.extra, **props}

    @classmethod
    def from_props(cls, props: dict[str, str]) -> ModelMetadata:
        """Read the string map; raises KeyError when it is not a sitewatch model's."""
        kind, bands = props["sitewatch_model"], props["bands"]
        return cls(
            kind=kind,
            bands=tuple(json.loads(bands)),
            threshold=float(props.get("threshold", "0.5")),
            min_region_px=int(props.get("min_region_px", "1")),
            pixel_size_m=float(props.get("pixel_size_m", "10")),
            size_multiple=int(props.get("size_multiple", "8")),
            pair_radiometry=props.get("pair_radiometry", "none"),
            train_cities=tuple(json.loads(props.get("train_cities", "[]"))),
            members=tuple(json.loads(props.get("members", "[]"))),
            weights=props.get("weights", "float32"),
            weight_bits=int(props["weight_bits"]) if props.get("weight_bits") else None,
            command=props.get("command", ""),
            extra={k: v for k, v in props.items() if k not in TYPED_KEYS},
        )

    def updated(self, **changes: Any) -> ModelMetadata:
        """A copy with typed fields replaced and, for other keys, `extra` entries set."""
        typed = {k: v for k, v in changes.items() if k in self.__dataclass_fields__}
        extra = {k: str(v) for k, v in changes.items() if k not in self.__dataclass_fields__}
        return replace(self, **typed, extra={**self.extra, **extra})


def write_props(proto: Any, metadata: ModelMetadata) -> None:
    """Replace an `onnx.ModelProto`'s metadata with `metadata` (no onnx import needed)."""
    del proto.metadata_props[:]
    for key, value in metadata.to_props().items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
