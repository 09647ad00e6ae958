"""Train one change network, choose its post-processing on its own training cities, export ONNX.

Everything the detector later needs travels in the ONNX file's metadata: the bands in
order, the input scale, the probability threshold and minimum region size chosen on the
training cities (never on a city it is tested on), the cities it saw and the command.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from sitewatch.base.model_metadata import ModelMetadata, write_props
from sitewatch.base.pair_radiometry import METHOD as PAIR_MATCHING
from sitewatch.base.pair_radiometry import match_pair
from sitewatch.train.config import ENCODER_FILES, TrainConfig
from sitewatch.train.data import City, TrainingData
from sitewatch.train.model import ChangeUNet, ProbabilityModel
from sitewatch.train.patches import PatchSampler
from sitewatch.train.postprocess import choose_postprocessing


@dataclass
class TrainedModel:
    net: ChangeUNet
    config: TrainConfig
    cities: list[str]
    threshold: float
    min_region_px: int
    train_f1: float
    seconds: float
    losses: list[float] = field(default_factory=list)


def edge_weights(label: torch.Tensor, weight: float) -> torch.Tensor:
    """`weight` on pixels whose 3 x 3 neighbourhood holds both classes, 1 elsewhere.

    Labels drawn on 10 m pixels are uncertain by about a pixel at object edges; a lower
    weight there lets the loss care more about whether an object changed than where
    exactly its outline falls.
    """
    grown = nn.functional.max_pool2d(label[:, None], 3, 1, 1)[:, 0]
    shrunk = -nn.functional.max_pool2d(-label[:, None], 3, 1, 1)[:, 0]
    return torch.where(grown != shrunk, weight, 1.0)


def _loss(logits: torch.Tensor, label: torch.Tensor, pos_weight: float, edge_weight: float = 1.0) -> torch.Tensor:
    """Weighted BCE (change is rare) plus soft Dice (rewards whole objects)."""
    w = edge_weights(label, edge_weight)  # all ones at the default weight of 1
    bce = nn.functional.binary_cross_entropy_with_logits(
        logits, label, weight=w, pos_weight=torch.tensor(pos_weight, device=logits.device)
    )
    prob = torch.sigmoid(logits)
    dice = 1 - (2 * (w * prob * label).sum() + 1) / ((w * prob).sum() + (w * label).sum() + 1)
    return bce + dice


@torch.no_grad()
def predict(
    net: ChangeUNet,
    before: np.ndarray,
    after: np.ndarray,
    device: str = "cpu",
    layout: torch.memory_format = torch.contiguous_format,
) -> np.ndarray:
    """Change probability of a whole (band, y, x) pair (padded to the size multiple), dates in `layout`."""
    net.eval()
    h, w = before.shape[1:]
    ph, pw = -h % net.size_multiple, -w % net.size_multiple
    pad = ((0, 0), (0, ph), (0, pw))
    b, a = (
        torch.from_numpy(np.pad(d, pad, mode="reflect")[None]).to(device).contiguous(memory_format=layout)
        for d in (before, after)
    )
    return torch.sigmoid(net(b, a))[0, 0, :h, :w].cpu().numpy()


def new_network(config: TrainConfig) -> ChangeUNet:
    """The untrained network of a recipe, with its pretrained encoder loaded when it has one."""
    if config.pretrained == "none":  # features_only without an encoder: refused by ChangeUNet
        return ChangeUNet(len(config.bands), config.widths, siamese=config.siamese, features_only=config.features_only)
    from sitewatch.train import pretrained  # lazy: needs efficientnet-pytorch and ukis-csmask ([train])

    if config.pretrained not in ENCODER_FILES or config.bands != pretrained.BANDS:
        known = ", ".join(map(repr, ENCODER_FILES))
        raise ValueError(f"pretrained {config.pretrained!r}: only {known}, on bands {pretrained.BANDS}")
    context = pretrained.CloudMaskFeatures.pretrained(config.pretrained)
    return ChangeUNet(
        len(config.bands),
        config.widths,
        config.siamese,
        context=context,
        context_channels=pretrained.CHANNELS,
        features_only=config.features_only,
    )  # a siamese recipe is refused by ChangeUNet, not silently built as early fusion


def model_inputs(cities: list[City], band_index: list[int], match_pairs: bool) -> list[City]:
    """The cities as the model sees them: its bands only and, if it wants them, matched pairs."""
    out = []
    for city in cities:
        before, after = city.before[band_index], city.after[band_index]
        if match_pairs:
            before, after = match_pair(before, after)
        out.append(City(city.name, before, after, city.changed))
    return out


def recipe_sampler(cities: list[City], config: TrainConfig) -> PatchSampler:
    """The patches and augmentation a recipe trains on, drawn from `cities` as `model_inputs` gives them."""
    return PatchSampler(
        cities,
        config.patch,
        gain_jitter=config.gain_jitter,
        joint_gain_jitter=config.joint_gain_jitter,
        seed=config.seed,
    )


def parameter_groups(net: ChangeUNet, config: TrainConfig) -> list[dict]:
    """The optimiser's parameter groups: the U-Net, and a fine-tuned pretrained encoder apart.

    A frozen encoder (`encoder_lr_scale` 0, or none) leaves one group of every parameter.
    Fine-tuning unfreezes the encoder and trains it at `encoder_lr_scale` times the U-Net's
    learning rate with no weight decay, so the pretrained description moves only as far as
    the change labels pull it (its batch norms keep the pretrained statistics:
    `CloudMaskFeatures.train`).
    """
    if net.context is None or config.encoder_lr_scale <= 0:
        return [{"params": list(net.parameters()), "lr": config.lr, "weight_decay": config.weight_decay}]
    encoder = list(net.context.parameters())
    for p in encoder:
        p.requires_grad_(True)
    ids = {id(p) for p in encoder}
    return [
        {
            "params": [p for p in net.parameters() if id(p) not in ids],
            "lr": config.lr,
            "weight_decay": config.weight_decay,
        },
        {"params": encoder, "lr": config.lr * config.encoder_lr_scale, "weight_decay": 0.0},
    ]


def training_step(
    net: ChangeUNet,
    optimiser: torch.optim.Optimizer,
    batch: tuple[np.ndarray, np.ndarray, np.ndarray],
    config: TrainConfig,
    device: str = "cpu",
    layout: torch.memory_format = torch.channels_last,
) -> torch.Tensor:
    """One optimiser step on a (before, after, label) batch of patches; the loss, still on the device.

    `layout` is the dates' memory layout, which should match the network's
    (`net.to(memory_format=...)`): `bench/train_step.py` times both.
    """
    before, after, label = (torch.from_numpy(v).to(device) for v in batch)
    before, after = (v.contiguous(memory_format=layout) for v in (before, after))
    loss = _loss(net(before, after)[:, 0], label, config.pos_weight, config.edge_weight)
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    return loss


def train(
    data: TrainingData,
    cities: list[str],
    config: TrainConfig,
    device: str = "cpu",
    log: Callable[[str], None] | None = None,
) -> TrainedModel:
    torch.manual_seed(config.seed)
    train_cities = model_inputs(data.subset(cities), data.band_indices(config.bands), config.match_pairs)
    sampler = recipe_sampler(train_cities, config)
    # Channels-last (oneDNN's convolutions on this layout) and the frozen encoder on ONNX
    # Runtime: a features-only step in 0.66-0.68 of the time, R1's in 0.88-1.01, two models
    # training at once on 2 cores (bench/train_step.py --copies 2). The arithmetic is the
    # same up to float rounding, so a retrained model differs as a reseeded one would.
    net = new_network(config).to(device, memory_format=torch.channels_last)
    groups = parameter_groups(net, config)
    if net.context is not None and device == "cpu" and len(groups) == 1:  # frozen: no gradient to compute
        net.context.use_onnxruntime(torch.get_num_threads())
    optimiser = torch.optim.AdamW(groups)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=[g["lr"] for g in groups], total_steps=config.steps
    )
    start = time.perf_counter()
    history: list[torch.Tensor] = []
    net.train()
    for step in range(config.steps):
        loss = training_step(net, optimiser, sampler.batch(config.batch), config, device, torch.channels_last)
        schedule.step()
        history.append(loss.detach())  # no .item() here: it would wait for the GPU every step
        if log and (step + 1) % max(1, config.steps // 10) == 0:
            recent = float(torch.stack(history[-100:]).mean())
            log(f"step {step + 1}/{config.steps} loss {recent:.4f} ({time.perf_counter() - start:.0f} s)")
    losses = [float(v) for v in torch.stack(history).cpu()] if history else []
    probs = [predict(net, c.before, c.after, device, torch.channels_last) for c in train_cities]
    threshold, min_px, f1 = choose_postprocessing(probs, [c.changed for c in train_cities])
    if log:
        log(f"post-processing on training cities: threshold {threshold}, min region {min_px} px, F1 {f1:.3f}")
    net.cpu().eval().to(memory_format=torch.contiguous_format)
    if net.context is not None:
        net.context.use_onnxruntime(None)
    return TrainedModel(net, config, list(cities), threshold, min_px, f1, time.perf_counter() - start, losses)


def export_onnx(model: TrainedModel, path: str | Path, command: str = "") -> Path:
    """Write the probability model with its metadata (atomic: a temporary file renamed)."""
    import onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    n = len(model.config.bands)
    example = (torch.zeros(1, n, 64, 64), torch.zeros(1, n, 64, 64))
    torch.onnx.export(
        ProbabilityModel(model.net).eval(),
        example,
        str(tmp),
        input_names=["before", "after"],
        output_names=["probability"],
        dynamic_axes={
            "before": {0: "n", 2: "h", 3: "w"},
            "after": {0: "n", 2: "h", 3: "w"},
            "probability": {0: "n", 1: "h", 2: "w"},
        },
        opset_version=17,
        dynamo=False,
    )
    proto = onnx.load(str(tmp))
    metadata = ModelMetadata(
        kind="change-unet-siam" if model.config.siamese else "change-unet-ef",
        bands=tuple(model.config.bands),
        threshold=model.threshold,
        min_region_px=model.min_region_px,
        pixel_size_m=10.0,
        size_multiple=model.net.size_multiple,
        pair_radiometry=PAIR_MATCHING if model.config.match_pairs else "none",
        train_cities=tuple(model.cities),
        command=command,
        extra={
            "input": "reflectance DN on the Sentinel-2 L1C scale (0-10000); 0 or NaN = no data",
            "train_f1": f"{model.train_f1:.4f}",
            "train_seconds": f"{model.seconds:.0f}",
            "train_config": json.dumps(asdict(model.config)),
        },
    )
    write_props(proto, metadata)
    onnx.save(proto, str(tmp))
    tmp.replace(path)
    return path


def parameter_count(net: nn.Module) -> int:
    return sum(math.prod(p.shape) for p in net.parameters())
