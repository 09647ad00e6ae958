"""Frozen features from a network pretrained on Sentinel-2 worldwide (`--pretrained csmask-b4[-l2a]`).

OSCD has 14 labelled cities, too few for a network to learn what imagery looks like in
general. The only pretrained Sentinel-2 weights found on the package
registries are those of ukis-csmask (DLR, Apache 2.0): a U-Net on an EfficientNet-b4
encoder, initialised on ImageNet and trained to segment clouds and cloud shadows in
CloudSEN12+ and SPARCS L1C scenes from blue, green, red and NIR (`model_4b_l1c.onnx`).
Its stem and first ten encoder blocks describe local texture and material at 1/2, 1/4 and 1/8 of
the input resolution; the change network receives how much these features differ between
the dates (`ChangeUNet(context=...)`), never the features themselves, so that it cannot
learn the training cities' land cover from them (alone, the variant that also saw the
features did worse on unseen cities, with more false alarms: docs/experiments.md, "Pretrained
encoder").

The weights are read from the installed ukis-csmask package (`pip install -e '.[train]'`)
into `efficientnet_pytorch`'s EfficientNet-b4 layers, kept frozen during training (or,
with `TrainConfig.encoder_lr_scale`, fine-tuned slowly with their batch-norm statistics
kept), and exported inside the change model's ONNX graph, so detection needs neither package.

`csmask-b4-l2a` reads the same architecture trained on L2A surface reflectance
(`model_4b_l2a.onnx`, fine-tuned from ImageNet separately, so its features differ). Fed
the L1C dates all the same, its features-only member scored best of the single networks
on four screening folds (docs/experiments.md).
"""

from __future__ import annotations

import importlib.util
import io
import json
import warnings
from pathlib import Path

import torch
from torch import nn

from sitewatch.train.config import ENCODER_FILES

NAME = "csmask-b4"  # the L1C encoder, the shipped member's
#: Feature channels at 1/2, 1/4 and 1/8 of the input resolution.
CHANNELS = (48, 32, 56)
#: The bands the pretrained network reads, in its order (also the change model's `rgbn`).
BANDS = ("blue", "green", "red", "nir")
_BLOCKS = 10  # EfficientNet-b4 blocks 0-1 (1/2), 2-5 (1/4), 6-9 (1/8)
_ENCODER_PREFIX = "model.encoder."


class PretrainedUnavailable(RuntimeError):
    """A package the pretrained encoder needs is not installed."""


def csmask_model_file(encoder: str = NAME) -> Path:
    """The ONNX file of the ukis-csmask 4-band model `encoder` names, found without importing the package."""
    spec = importlib.util.find_spec("ukis_csmask")
    if spec is None or not spec.submodule_search_locations:
        raise PretrainedUnavailable(
            f"--pretrained {encoder} needs the ukis-csmask package (its weights): run `pip install -e '.[train]'`"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / ENCODER_FILES[encoder]
    if not path.is_file():
        raise PretrainedUnavailable(f"{path}: missing from the installed ukis-csmask; reinstall ukis-csmask==1.0.0")
    return path


def require_packages() -> None:
    """Raise `PretrainedUnavailable` (one line naming the fix) unless both packages are installed."""
    if importlib.util.find_spec("efficientnet_pytorch") is None:
        raise PretrainedUnavailable(f"--pretrained {NAME} needs efficientnet-pytorch: run `pip install -e '.[train]'`")
    csmask_model_file()


def _efficientnet_b4() -> nn.Module:
    require_packages()
    from efficientnet_pytorch import EfficientNet

    net = EfficientNet.from_name("efficientnet-b4", in_channels=len(BANDS))
    net.set_swish(memory_efficient=False)  # the memory-efficient swish is a custom autograd op ONNX cannot export
    return net


class CloudMaskFeatures(nn.Module):
    """EfficientNet-b4 stem and blocks 0-9: reflectance DN (N, 4, H, W) -> features at /2, /4, /8.

    H and W must be even multiples of 8; the stride-2 convolutions keep ukis-csmask's fixed
    "same" padding, so a feature pixel covers the same ground as in the original network.
    """

    def __init__(self) -> None:
        super().__init__()
        net = _efficientnet_b4()
        self.stem = nn.Sequential(net._conv_stem, net._bn0, net._swish)
        self.blocks = nn.ModuleList(net._blocks[:_BLOCKS])
        # The pretrained network's input standardisation of reflectance (DN / 10,000); set by `load`.
        self.register_buffer("mean", torch.zeros(1, len(BANDS), 1, 1))
        self.register_buffer("std", torch.ones(1, len(BANDS), 1, 1))
        for p in self.parameters():
            p.requires_grad_(False)
        self._session = None  # an onnxruntime.InferenceSession of these layers: `use_onnxruntime`

    @classmethod
    def pretrained(cls, encoder: str = NAME) -> CloudMaskFeatures:
        """The layers with the weights and input statistics of the ukis-csmask model `encoder` names."""
        features = cls()
        features.load(csmask_model_file(encoder))
        return features.eval()

    def load(self, onnx_path: Path) -> None:
        import onnx
        from onnx import numpy_helper

        proto = onnx.load(str(onnx_path))
        weights = {
            init.name[len(_ENCODER_PREFIX) :]: torch.from_numpy(numpy_helper.to_array(init).astype("float32"))
            for init in proto.graph.initializer
            if init.name.startswith(_ENCODER_PREFIX)
        }
        state = {}
        for key in self.state_dict():
            if key in ("mean", "std") or key.endswith("num_batches_tracked"):
                continue
            source = key.replace("stem.0.", "_conv_stem.").replace("stem.1.", "_bn0.").replace("blocks.", "_blocks.", 1)
            if source not in weights:
                raise PretrainedUnavailable(f"{onnx_path}: no weight {_ENCODER_PREFIX}{source}; not ukis-csmask 1.0.0?")
            state[key] = weights[source]
        self.load_state_dict(state, strict=False)
        stats = json.loads(onnx_path.with_suffix(".json").read_text())["data"]["dataset_statistics"]
        if tuple(stats["band_names"]) != BANDS:
            raise PretrainedUnavailable(f"{onnx_path}: bands {stats['band_names']}, expected {list(BANDS)}")
        self.mean.copy_(torch.tensor(stats["img"][0]).view(1, -1, 1, 1))
        self.std.copy_(torch.tensor(stats["img"][1]).view(1, -1, 1, 1))

    def use_onnxruntime(self, threads: int | None) -> None:
        """Compute forward passes of CPU tensors with ONNX Runtime from now on; `None`: with torch again.

        The layers are frozen and no gradient flows through them, so training needs only
        their output. From the same weights ONNX Runtime computes it fast enough on a CPU
        to cut a features-only training step to about two thirds of its time
        (bench/train_step.py), agreeing with torch to float rounding
        (tests/train/test_fit.py). ONNX export always traces the torch layers.
        """
        if threads is None:
            self._session = None
            return
        from sitewatch.detect.learned import cpu_session  # lazy: training runs without the detection stack loaded

        self._session = None  # export the torch layers
        graph = io.BytesIO()
        with warnings.catch_warnings():  # the exporter's notes on constant folding, once per model trained
            warnings.simplefilter("ignore")
            torch.onnx.export(
                self,
                (torch.zeros(1, len(BANDS), 64, 64),),
                graph,
                input_names=["dn"],
                output_names=["half", "quarter", "eighth"],
                dynamic_axes={"dn": {0: "n", 2: "h", 3: "w"}},
                opset_version=17,
                dynamo=False,
            )
        self._session = cpu_session(graph.getvalue(), threads)

    def train(self, mode: bool = True) -> CloudMaskFeatures:
        return super().train(False)  # frozen: batch norm keeps the pretrained statistics

    def forward(self, dn: torch.Tensor) -> list[torch.Tensor]:
        if self._session is not None and dn.device.type == "cpu" and not torch.onnx.is_in_onnx_export():
            features = self._session.run(None, {"dn": dn.detach().contiguous().numpy()})
            return [torch.from_numpy(f) for f in features]
        x = (torch.clamp(dn, min=0.0) / 10000.0 - self.mean) / self.std
        x = self.stem(x)
        features = [x]  # 1/2: the stem
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in (5, 9):  # the last blocks at 1/4 and at 1/8
                features.append(x)
        return features
