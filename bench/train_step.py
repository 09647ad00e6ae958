"""Training step time of the recipes as `fit.train` runs them and as it did before, on real OSCD patches.

Run:  .venv/bin/python bench/train_step.py oscd-train.npz [--steps 20] [--threads 1] [--copies 2]

(the file from `sitewatch model prepare`; needs `pip install -e '.[train]'`).

`sitewatch.train.fit.train` runs networks and batches channels-last, and a frozen
pretrained encoder on ONNX Runtime. This times the same optimiser steps
(`fit.training_step`) of R1 (U-Net alone) and FOm (features-only U-Net over the frozen
ukis-csmask encoder) in the contiguous (NCHW) layout all on torch, as before, and as
`train` runs them now (for FOm also channels-last with the encoder still on torch),
the variants taking turns in one process, on batches drawn by the training sampler from
all 14 cities. The machines are shared and noisy, so the figure to compare between runs
is the ratio to the NCHW time. `--threads 1 --copies 2` is how `plan --jobs 2` trains
on 2 cores: two models at once, one thread each, sharing the memory bandwidth.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import torch

from sitewatch.train.config import TrainConfig
from sitewatch.train.data import TrainingData
from sitewatch.train.fit import model_inputs, new_network, recipe_sampler, training_step

RECIPES = {
    "R1": TrainConfig(seed=1),
    "FOm": TrainConfig(seed=1, match_pairs=True, pretrained="csmask-b4", features_only=True),
}
#: name: memory layout, frozen encoder on ONNX Runtime; the last is how `fit.train` runs.
VARIANTS = {
    "NCHW": (torch.contiguous_format, False),
    "channels-last": (torch.channels_last, False),
    "channels-last, encoder on ORT": (torch.channels_last, True),
}


def step_seconds(config: TrainConfig, data: TrainingData, variant: str, steps: int) -> list[float]:
    """Seconds of each of `steps` optimiser steps after two warm-up steps, run as `variant` says."""
    layout, onnxruntime = VARIANTS[variant]
    torch.manual_seed(config.seed)
    cities = model_inputs(data.subset(sorted(data.cities)), data.band_indices(config.bands), config.match_pairs)
    sampler = recipe_sampler(cities, config)
    net = new_network(config).to(memory_format=layout).train()
    if onnxruntime:
        net.context.use_onnxruntime(torch.get_num_threads())
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    times = []
    for i in range(steps + 2):
        batch = sampler.batch(config.batch)
        start = time.perf_counter()
        training_step(net, optimiser, batch, config, layout=layout)
        if i >= 2:
            times.append(time.perf_counter() - start)
    return times


def measure(training_file: Path, steps: int, threads: int) -> list[str]:
    """One line per recipe: each variant's best median step time and its ratio to NCHW's."""
    torch.set_num_threads(threads)
    data = TrainingData.load(training_file)
    lines = []
    for name, config in RECIPES.items():
        variants = [v for v, (_, ort) in VARIANTS.items() if config.pretrained != "none" or not ort]
        medians: dict[str, list[float]] = {v: [] for v in variants}
        for _ in range(2):  # every variant twice, in turn, so drifting machine load hits all alike
            for variant in variants:
                medians[variant].append(statistics.median(step_seconds(config, data, variant, steps)))
        nchw = min(medians["NCHW"])
        figures = [f"{v} {min(m):.3f} ({min(m) / nchw:.2f})" for v, m in medians.items()]
        lines.append(f"{name:4s} " + "  ".join(figures))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("training_file", type=Path)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--copies", type=int, default=1, help="run this many measurements at once, as plan --jobs does")
    args = parser.parse_args()
    TrainingData.load(args.training_file)  # a bad file fails here, before any worker starts
    print(
        f"{args.steps} steps each after 2 warm-up steps, batch 16 x 64 px, {args.threads} thread(s), "
        f"{args.copies} cop{'y' if args.copies == 1 else 'ies'} at once; s/step (ratio to NCHW):"
    )
    jobs = [(args.training_file, args.steps, args.threads)] * args.copies
    with ProcessPoolExecutor(args.copies, mp_context=get_context("spawn")) as pool:
        for copy, lines in enumerate(pool.map(measure, *zip(*jobs, strict=True)), start=1):
            for line in lines:
                print(f"copy {copy}: {line}" if args.copies > 1 else line)


if __name__ == "__main__":
    main()
