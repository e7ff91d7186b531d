"""Training throughput of every method under each speed-up, against today's code path, in one run.

    python scripts/bench_methods.py --dataset cifar10 --bits 48 --width 32 --batch-size 128 --steps 10
    KERAS_BACKEND=torch python scripts/bench_methods.py --configs fused fused+bf16 ...   # on a GPU

Configurations (each measured in its own process, since the precision policy is global):

* ``today``: float32, a network pass per input (``fused_passes=False``) -- the path before the speed work;
* ``fused``: float32, one pass over stacked batches where a method has it (HashGAN, DSH-GAN);
* ``fused+bf16``: the same under ``mixed_bfloat16`` (native bfloat16 convolutions on CPUs with AVX512_BF16);
* ``fused+bf16+xla``: the same with ``jit_compile=True`` (TensorFlow XLA);
* ``fused+torch``: ``fused`` on Keras's torch backend (the GPU machines' backend), whatever backend the
  benchmark itself runs on.

Every (method, configuration) is measured in ``--repeats`` interleaved rounds and keeps its best: CPU
time on a shared machine varies from run to run. Each row says how many training images per second
``fit`` consumes (every player's update included;
semi-supervised methods consume a labelled and an unlabelled batch per step and count both), its
ratio to the same method's ``today`` row, and to the plain encoder: the same DCGAN-style encoder
fitted alone with one optimizer to a tanh code regression, the method-free cost of hashing. Images
are random pixels of the dataset's shape: throughput does not depend on their content.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import subprocess
import sys
import time
from typing import NamedTuple

import numpy as np

from ganhash_zoo.datasets.catalogue import IMAGE_SHAPES


class Config(NamedTuple):
    fused: bool  # one pass over stacked batches
    precision: str | None  # mixed precision policy, None for float32
    xla: bool  # jit_compile=True
    backend: str | None = None  # KERAS_BACKEND of the measuring process; None: the benchmark's own


CONFIGS = {"today": Config(False, None, False), "fused": Config(True, None, False),
           "fused+bf16": Config(True, "bfloat16", False), "fused+bf16+xla": Config(True, "bfloat16", True),
           "fused+torch": Config(True, None, False, "torch")}


def images_per_second(model, args, kwargs, per_step: int, steps: int) -> float:
    model.fit(*args, epochs=1, steps_per_epoch=2, verbose=0, **kwargs)  # trace / warm up
    start = time.perf_counter()
    model.fit(*args, epochs=1, steps_per_epoch=steps, verbose=0, **kwargs)
    return per_step * steps / (time.perf_counter() - start)


def benchmarked_models() -> dict:
    """Name -> class of every registered method and of each method's first stage (e.g. fakereg-gan)."""
    from ganhash_zoo.methods import METHODS

    stages = {cls.first_stage.method_name: cls.first_stage for cls in METHODS.values() if cls.first_stage}
    return {**stages, **METHODS}


def measure(name: str, config: str, args) -> float:
    """Images/s of one method (or "encoder", the baseline) under one configuration, in this process."""
    import keras

    setting = CONFIGS[config]
    if setting.precision:
        keras.mixed_precision.set_global_policy(f"mixed_{setting.precision}")
    keras.utils.set_random_seed(0)
    from ganhash_zoo.methods import GANHasher
    from ganhash_zoo.nets import dcgan_backbone
    from ganhash_zoo.nets.backbones import build_encoder

    rng = np.random.default_rng(0)
    shape, n = IMAGE_SHAPES[args.dataset], args.batch_size * (args.steps + 2)
    images = rng.integers(0, 256, (n, *shape), dtype=np.uint8)
    if name == "encoder":
        encoder = build_encoder(dcgan_backbone(shape, args.width), args.bits)
        encoder.compile(optimizer=keras.optimizers.Adam(2e-4), loss="mse", jit_compile=setting.xla)
        targets = np.tanh(rng.normal(size=(n, args.bits))).astype("float32")
        return images_per_second(encoder, (images, targets), {"batch_size": args.batch_size}, args.batch_size,
                                 args.steps)
    cls = benchmarked_models()[name]
    kwargs = dict(image_shape=shape, width=args.width, seed=0)
    if issubclass(cls, GANHasher):
        kwargs["bits"] = args.bits
    if "fused_passes" in inspect.signature(cls.__init__).parameters:
        kwargs["fused_passes"] = setting.fused
    model = cls(**kwargs)
    model.prepare(images[:512])
    model.compile(learning_rate=2e-4, jit_compile=setting.xla)
    fit_args, fit_kwargs = model.fit_inputs(images, images, rng.integers(0, 10, n), args.batch_size)
    per_step = 2 * args.batch_size if model.learning == "semi-supervised" else args.batch_size
    return images_per_second(model, fit_args, fit_kwargs, per_step, args.steps)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=sorted(IMAGE_SHAPES), default="cifar10")
    parser.add_argument("--bits", type=int, default=48)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10, help="timed training steps per measurement")
    parser.add_argument("--methods", nargs="*", help="default: every method and first stage (fakereg-gan)")
    parser.add_argument("--configs", nargs="*", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--repeats", type=int, default=3,
                        help="rounds over every (method, configuration); each row keeps its best round")
    parser.add_argument("--measure", nargs=2, metavar=("METHOD", "CONFIG"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:  # child process: one number
        print(json.dumps(measure(*args.measure, args)))
        return

    import keras

    args.methods = args.methods or list(benchmarked_models())

    def run(name, config):
        child = [sys.executable, __file__, "--measure", name, config, "--dataset", args.dataset, "--bits",
                 str(args.bits), "--width", str(args.width), "--batch-size", str(args.batch_size), "--steps",
                 str(args.steps)]
        backend = CONFIGS[config].backend
        env = {**os.environ, "KERAS_BACKEND": backend} if backend else None
        result = subprocess.run(child, capture_output=True, text=True, env=env)
        if result.returncode:
            raise RuntimeError(f"{name} / {config} failed:\n{result.stderr[-2000:]}")
        return float(result.stdout.strip().splitlines()[-1])

    # rounds interleave the configurations, and each keeps its best, so a slow spell of a shared machine
    # does not land on one configuration only
    jobs = [("encoder", "today")] + [(name, config) for name in args.methods for config in args.configs]
    best = {job: 0.0 for job in jobs}
    for _ in range(args.repeats):
        for job in jobs:
            best[job] = max(best[job], run(*job))
    base = best["encoder", "today"]
    print(f"training throughput: {args.dataset} {IMAGE_SHAPES[args.dataset]}, {args.bits} bits, width {args.width}, "
          f"batch {args.batch_size}, {args.steps} timed steps, best of {args.repeats} interleaved rounds, backend "
          f"{keras.backend.backend()}; plain encoder {base:,.0f} images/s (float32)")
    print("| method | configuration | images/s | vs today | vs plain encoder |")
    print("|---|---|---|---|---|")
    for name in args.methods:
        today = best.get((name, "today"))
        for config in args.configs:
            speed = best[name, config]
            ratio = f"{speed / today:.2f}x" if today else "-"
            print(f"| {name} | {config} | {speed:,.0f} | {ratio} | {speed / base:.2f}x |", flush=True)

if __name__ == "__main__":
    main()
