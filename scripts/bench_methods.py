"""Training throughput of every method, against a plain Keras encoder trained in the same run.

    python scripts/bench_methods.py --dataset cifar10 --bits 48 --width 64 --batch-size 128 --steps 20
    KERAS_BACKEND=torch python scripts/bench_methods.py --mixed-precision bfloat16 ...   # GPU machine

The baseline is the method-free cost of hashing: the same DCGAN-style encoder
with one optimizer, fitted by standard ``compile``/``fit`` to a tanh code
regression. Each method's row says how many training images per second its
``train_step`` (every player's update) consumes and what fraction of the
baseline's speed that is. Images are random pixels of the dataset's shape:
throughput does not depend on their content. Semi-supervised methods consume
a labelled and an unlabelled batch per step; both count.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

SHAPES = {"cifar10": (32, 32, 3), "fashion_mnist": (28, 28, 1)}


def fit_arguments(model, n: int, batch_size: int, shape, rng):
    """(fit args, fit kwargs, images per step) for the data the model learns from."""
    images = rng.integers(0, 256, (n, *shape), dtype=np.uint8)
    args, kwargs = model.fit_inputs(images, images, rng.integers(0, 10, n), batch_size)
    return args, kwargs, 2 * batch_size if model.learning == "semi-supervised" else batch_size


def images_per_second(model, args, kwargs, per_step: int, steps: int) -> float:
    model.fit(*args, epochs=1, steps_per_epoch=2, verbose=0, **kwargs)  # trace / warm up
    start = time.perf_counter()
    model.fit(*args, epochs=1, steps_per_epoch=steps, verbose=0, **kwargs)
    return per_step * steps / (time.perf_counter() - start)


def baseline_model(shape, bits, width, learning_rate):
    import keras

    from ganhash_zoo.nets import dcgan_backbone
    from ganhash_zoo.nets.backbones import build_encoder

    encoder = build_encoder(dcgan_backbone(shape, width), bits)
    encoder.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
    return encoder


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=sorted(SHAPES), default="cifar10")
    parser.add_argument("--bits", type=int, default=48)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20, help="timed training steps per method")
    parser.add_argument("--mixed-precision", choices=["bfloat16", "float16"], default=None)
    parser.add_argument("--methods", nargs="*", default=None, help="default: all five")
    args = parser.parse_args(argv)

    import keras

    if args.mixed_precision:
        keras.mixed_precision.set_global_policy(f"mixed_{args.mixed_precision}")
    from ganhash_zoo.methods import METHODS, FakeRegGAN

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    shape, n = SHAPES[args.dataset], args.batch_size * (args.steps + 2)

    rows = []
    images = rng.integers(0, 256, (n, *shape), dtype=np.uint8)
    targets = np.tanh(rng.normal(size=(n, args.bits))).astype("float32")
    base = images_per_second(baseline_model(shape, args.bits, args.width, 2e-4), (images, targets),
                             {"batch_size": args.batch_size}, args.batch_size, args.steps)
    rows.append(("plain encoder (baseline)", base))
    for name in args.methods or list(METHODS):
        kwargs = dict(bits=args.bits, image_shape=shape, width=args.width, seed=0)
        if name == "fakereg":  # stage 1, then stage 2 on its generator
            gan = FakeRegGAN(image_shape=shape, width=args.width, seed=0)
            gan.compile(learning_rate=2e-4)
            rows.append(("fakereg stage 1 (GAN)", images_per_second(
                gan, (images,), {"batch_size": args.batch_size}, args.batch_size, args.steps)))
            kwargs["generator"] = gan.generator
        model = METHODS[name](**kwargs).prepare(rng.integers(0, 256, (512, *shape), dtype=np.uint8))
        model.compile(learning_rate=2e-4)
        fit_args, fit_kwargs, per_step = fit_arguments(model, n, args.batch_size, shape, rng)
        rows.append((name, images_per_second(model, fit_args, fit_kwargs, per_step, args.steps)))

    print(f"training throughput: {args.dataset} {shape}, {args.bits} bits, width {args.width}, batch "
          f"{args.batch_size}, {args.steps} timed steps, backend {keras.backend.backend()}, "
          f"policy {keras.mixed_precision.dtype_policy().name}")
    print("| model | images/s | vs baseline |")
    print("|---|---|---|")
    for name, speed in rows:
        print(f"| {name} | {speed:,.0f} | {speed / base:.2f}x |")


if __name__ == "__main__":
    main()
