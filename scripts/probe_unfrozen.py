"""The plain classifier with EfficientNet-Lite0's last block fine-tuned, against it on the frozen backbone.

The supervised goal (0.70 mAP@54000 at 48 bits) lies above what the frozen
backbone's pooled features give (RESULTS.md, "A partly unfrozen backbone").
This probe measures the next step on the CPU: the network is split before its
last MBConv block, the first part runs once over the images (its maps held in
memory, not cached), and the plain classifier baseline (a tanh hash layer, a
softmax on it, cross-entropy on the labelled training images and their mirror
images) learns with the rest of the network frozen, or fine-tuned with its
batch norm kept in inference mode.

    python scripts/probe_unfrozen.py --protocol cifar10-54k --bits 48 --data-dir ../shared/datasets
    python scripts/probe_unfrozen.py ... --split val     # validation queries against the labelled pool
"""

import argparse
import time

import keras
import numpy as np

from ganhash_zoo.datasets import load_protocol
from ganhash_zoo.datasets.transforms import near_duplicates
from ganhash_zoo.nets.efficientnet_lite import split_at_block
from ganhash_zoo.pretrained import load_backbone, to_pixels
from ganhash_zoo.retrieval import Evaluator

LAST_BLOCK = 15
FROZEN_EPOCHS, FROZEN_LEARNING_RATE = 30, 1e-3  # the frozen variant trains only the two dense layers


def block_inputs(to_block, images, resolution: int, batch_size: int = 256) -> np.ndarray:
    return np.concatenate([to_block.predict_on_batch(to_pixels(images[start : start + batch_size], resolution))
                           for start in range(0, len(images), batch_size)])


def classifier(from_block, bits: int, classes: int, fine_tune: bool):
    """(maps -> class logits, maps -> relaxed codes) on the network's last part."""
    for layer in from_block.layers:
        layer.trainable = fine_tune and not isinstance(layer, keras.layers.BatchNormalization)
    maps = keras.Input(from_block.input_shape[1:])
    features = keras.layers.LayerNormalization()(from_block(maps, training=False))
    codes = keras.layers.Dense(bits, activation="tanh")(features)
    return keras.Model(maps, keras.layers.Dense(classes)(codes)), keras.Model(maps, codes)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", default="cifar10-54k")
    parser.add_argument("--bits", type=int, default=48)
    parser.add_argument("--split", choices=["test", "val"], default="test")
    parser.add_argument("--epochs", type=int, default=10, help="fine-tuning epochs")
    parser.add_argument("--learning-rates", type=float, nargs="+", default=[1e-4, 3e-4], help="fine-tuning rates")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()

    data, split = load_protocol(args.protocol, data_dir=args.data_dir)
    queries, database = (split.val, split.train) if args.split == "val" else (split.query, split.database)
    extractor = load_backbone()
    network = extractor.network
    to_block, from_block = split_at_block(network, LAST_BLOCK)
    started = time.time()
    train = block_inputs(to_block, np.concatenate([data.images[split.train], data.images[split.train][:, :, ::-1]]),
                         extractor.resolution)
    labels = np.concatenate([data.labels[split.train]] * 2)
    evaluator = Evaluator(block_inputs(to_block, data.images[queries], extractor.resolution), data.labels[queries],
                          block_inputs(to_block, data.images[database], extractor.resolution),
                          data.labels[database], cutoffs=split.map_cutoffs if args.split == "test" else (None,),
                          protocol=f"{split.name}/{args.split}",
                          copies=block_inputs(to_block, near_duplicates(data.images[queries]), extractor.resolution))
    print(f"maps of the last block's input: {time.time() - started:.0f} s")

    pretrained = network.get_weights()
    variants = [("frozen", False, FROZEN_EPOCHS, FROZEN_LEARNING_RATE)]
    variants += [(f"last block fine-tuned, {rate:g}", True, args.epochs, rate) for rate in args.learning_rates]
    rows = []
    for name, fine_tune, epochs, rate in variants:
        network.set_weights(pretrained)
        keras.utils.set_random_seed(args.seed)
        model, encoder = classifier(from_block, args.bits, int(labels.max()) + 1, fine_tune)
        model.compile(keras.optimizers.Adam(rate), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        started = time.time()
        model.fit(train, labels, epochs=epochs, batch_size=128, verbose=0)
        seconds = time.time() - started
        rows.append((name, epochs, evaluator.evaluate(encoder, name).metrics, seconds))
    keys = [key for key in rows[0][2] if key.startswith("mAP") or key in ("precision@r2", "copy_recall@10")]
    print(f"\n{args.protocol} ({args.split}), {args.bits} bits, plain classifier on EfficientNet-Lite0\n")
    print("| variant | epochs | " + " | ".join(keys) + " | train s |")
    print("|---" * (len(keys) + 3) + "|")
    for name, epochs, metrics, seconds in rows:
        print(f"| {name} | {epochs} | " + " | ".join(f"{metrics[key]:.4f}" for key in keys) + f" | {seconds:.0f} |")


if __name__ == "__main__":
    main()
