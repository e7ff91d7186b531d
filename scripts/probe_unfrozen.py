"""The plain classifier with EfficientNet-Lite0's last blocks fine-tuned, against it on the frozen backbone.

The supervised goal (0.70 mAP@54000 at 48 bits) lies above what the frozen
backbone's pooled features give (RESULTS.md, "A partly unfrozen backbone").
This probe measures the next step on the CPU: the network is split before its
last MBConv block (or ``--block``), the first part runs once over the images
(its maps held in memory, not cached), and the plain classifier baseline (a tanh hash layer, a
softmax on it, cross-entropy on the labelled training images and their mirror
images) learns with the rest of the network frozen, or fine-tuned with its
batch norm kept in inference mode.

    python scripts/probe_unfrozen.py --protocol cifar10-54k --bits 48 --data-dir ../shared/datasets
    python scripts/probe_unfrozen.py ... --split val     # validation queries against the labelled pool

With ``--then METHOD ...`` each fine-tuned network then serves as a frozen
backbone for the methods (two stages): each trains with its zoo recipe on the
network's pooled features (cached like the zoo's, under the tuned weights'
digest), into ``--out``, and its test figures are printed beside the plain
classifier and ITQ fitted on the same features.
"""

import argparse
import hashlib
import time
from pathlib import Path

import keras
import numpy as np

from ganhash_zoo.datasets import load_protocol
from ganhash_zoo.datasets.transforms import near_duplicates
from ganhash_zoo.feature_cache import feature_data
from ganhash_zoo.nets.efficientnet_lite import split_at_block
from ganhash_zoo.pretrained import FeatureExtractor, load_backbone
from ganhash_zoo.registry import registry
from ganhash_zoo.retrieval import Evaluator
from ganhash_zoo.training import train_on

LAST_BLOCK = 15  # the last MBConv block; blocks 12-15 all read 5x5 maps at 160 px
FROZEN_EPOCHS, FROZEN_LEARNING_RATE = 30, 1e-3  # the frozen variant trains only the two dense layers


def classifier(from_block, bits: int, classes: int, fine_tune: bool):
    """(maps -> class logits, maps -> relaxed codes) on the network's last part."""
    for layer in from_block.layers:
        layer.trainable = fine_tune and not isinstance(layer, keras.layers.BatchNormalization)
    maps = keras.Input(from_block.input_shape[1:])
    features = keras.layers.LayerNormalization()(from_block(maps, training=False))
    codes = keras.layers.Dense(bits, activation="tanh")(features)
    return keras.Model(maps, keras.layers.Dense(classes)(codes)), keras.Model(maps, codes)


class TunedExtractor(FeatureExtractor):
    """The backbone with fine-tuned weights: cached under their digest, recorded under a name no loader knows."""

    def __init__(self, extractor: FeatureExtractor):
        super().__init__(extractor.preset, extractor.network, extractor.resolution)
        digest = hashlib.sha256()
        for weight in extractor.network.get_weights():
            digest.update(np.ascontiguousarray(weight).tobytes())
        self.tag = digest.hexdigest()[:16]

    @property
    def key(self) -> str:
        return f"{super().key}-tuned-{self.tag}"

    def spec(self) -> dict:
        return {"name": f"{self.name}-tuned-{self.tag}", "resolution": self.resolution}


def shown(metrics: dict) -> list:
    """The figures a table shows: each mAP, precision within Hamming radius 2, near-duplicate recall."""
    return [key for key in metrics if key.startswith("mAP@") or key in ("precision@r2", "copy_recall@10")]


def zoo_recipe(method: str, protocol: str, bits: int):
    """The zoo's TrainConfig for ``method`` on ``protocol`` at ``bits``."""
    for entry in registry().values():
        recipe = entry.recipe
        if (recipe.method, recipe.protocol, recipe.bits) == (method, protocol, bits):
            return recipe
    raise SystemExit(f"the zoo has no {method} model on {protocol} at {bits} bits")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", default="cifar10-54k")
    parser.add_argument("--bits", type=int, default=48)
    parser.add_argument("--split", choices=["test", "val"], default="test")
    parser.add_argument("--block", type=int, default=LAST_BLOCK, help="fine-tune from this MBConv block on")
    parser.add_argument("--epochs", type=int, default=10, help="fine-tuning epochs")
    parser.add_argument("--learning-rates", type=float, nargs="+", default=[1e-4, 3e-4], help="fine-tuning rates")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--then", nargs="*", default=[], metavar="METHOD",
                        help="methods to train, with their zoo recipes, on each fine-tuned network's features")
    parser.add_argument("--out", default="runs/probe_unfrozen", help="the methods' run folders (with --then)")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    recipes = [zoo_recipe(method, args.protocol, args.bits) for method in args.then]

    data, split = load_protocol(args.protocol, data_dir=args.data_dir)
    queries, database = (split.val, split.train) if args.split == "val" else (split.query, split.database)
    extractor = load_backbone()
    network = extractor.network
    _, from_block = split_at_block(network, args.block)
    block_inputs = load_backbone(cut_block=args.block).features  # the front up to the block, never fine-tuned
    started = time.time()
    train = block_inputs(np.concatenate([data.images[split.train], data.images[split.train][:, :, ::-1]]))
    labels = np.concatenate([data.labels[split.train]] * 2)
    evaluator = Evaluator(block_inputs(data.images[queries]), data.labels[queries],
                          block_inputs(data.images[database]), data.labels[database],
                          cutoffs=split.map_cutoffs if args.split == "test" else (None,),
                          protocol=f"{split.name}/{args.split}",
                          copies=block_inputs(near_duplicates(data.images[queries])))
    print(f"maps of block {args.block}'s input: {time.time() - started:.0f} s")

    pretrained = network.get_weights()
    variants = [("frozen", False, FROZEN_EPOCHS, FROZEN_LEARNING_RATE)]
    tuned = "last block" if args.block == LAST_BLOCK else f"blocks {args.block}-{LAST_BLOCK}"
    variants += [(f"{tuned} fine-tuned, {rate:g}", True, args.epochs, rate) for rate in args.learning_rates]
    rows, stacked = [], []
    for name, fine_tune, epochs, rate in variants:
        network.set_weights(pretrained)
        keras.utils.set_random_seed(args.seed)
        model, encoder = classifier(from_block, args.bits, int(labels.max()) + 1, fine_tune)
        model.compile(keras.optimizers.Adam(rate), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        started = time.time()
        model.fit(train, labels, epochs=epochs, batch_size=128, verbose=0)
        seconds = time.time() - started
        rows.append((name, epochs, evaluator.evaluate(encoder, name).metrics, seconds))
        if fine_tune and recipes:
            stacked += two_stage(recipes, feature_data(data, TunedExtractor(extractor), progress=False), name,
                                 Path(args.out))
    keys = shown(rows[0][2])
    print(f"\n{args.protocol} ({args.split}), {args.bits} bits, plain classifier on EfficientNet-Lite0\n")
    print("| variant | epochs | " + " | ".join(keys) + " | train s |")
    print("|---" * (len(keys) + 3) + "|")
    for name, epochs, metrics, seconds in rows:
        print(f"| {name} | {epochs} | " + " | ".join(f"{metrics[key]:.4f}" for key in keys) + f" | {seconds:.0f} |")
    if stacked:
        print("\nthe methods on each fine-tuned network's features (frozen), test split\n")
        keys = shown(stacked[0][2])
        print(f"| network | method | {' | '.join(keys)} | plain classifier {keys[0]} | ITQ {keys[0]} | train s |")
        print("|---" * (len(keys) + 5) + "|")
        for network_name, method, metrics, baselines, seconds in stacked:
            print(f"| {network_name} | {method} | " + " | ".join(f"{metrics[key]:.4f}" for key in keys)
                  + f" | {baselines['linear-ce'][keys[0]]:.4f} | {baselines['itq'][keys[0]]:.4f} | {seconds:.0f} |")


def two_stage(recipes, features, network_name: str, out: Path) -> list:
    """Each recipe trained on a tuned network's ``features`` (FeatureData): (network, method, test metrics,
    baselines, train s)."""
    rows = []
    for recipe in recipes:
        result = train_on(recipe, features, out / f"{features.extractor.tag}-{recipe.name}", verbose=0)
        rows.append((network_name, recipe.method, result["metrics"], result["baselines"], result["train_seconds"]))
    return rows


if __name__ == "__main__":
    main()
