"""``ganhash-zoo``: list, inspect, encode with, index and search with, evaluate and train hashing models."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from .baselines import BASELINES
from .config import TrainConfig
from .datasets import DatasetError, get_protocol, load_protocol
from .datasets.catalogue import IMAGE_SHAPES, model_name
from .files import check_new_output
from .papers import FASHION_PROTOCOL, METHODS
from .registry import (UnknownModelError, WeightIntegrityError, WeightsNotAvailableError, info,
                       list_models, registry)
from .retrieval import Evaluator, HammingIndex, IndexMismatchError
from .retrieval.index import KINDS
from .retrieval.plots import plot_search_grid
from .training import train
from .zoo import load, load_run

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


class CLIError(Exception):
    """A problem with the command's input, reported as one line."""


@contextlib.contextmanager
def native_stderr_silenced():
    """Hide what TensorFlow's C++ start-up writes straight to fd 2 (oneDNN, CUDA probes), which
    TF_CPP_MIN_LOG_LEVEL does not reach; a user who sets TF_CPP_MIN_LOG_LEVEL sees everything."""
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        yield
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def start_keras():
    """Import Keras and touch the device once, quietly (see :func:`native_stderr_silenced`)."""
    with native_stderr_silenced():
        import keras

        keras.ops.convert_to_numpy(keras.ops.zeros(()))


def _cmd_list(args):
    entries = registry()
    rows = [entries[n] for n in list_models(args.pattern, released_only=args.released)]
    print(f"{'name':<32} {'method':<8} {'protocol':<18} {'bits':>4}  released")
    for e in rows:
        print(f"{e.name:<32} {e.method:<8} {e.protocol:<18} {e.bits:>4}  {'yes' if e.released else 'no'}")


def _cmd_info(args):
    print(json.dumps(info(args.name), indent=2))


def _read_images(path: Path, image_shape, convert: bool = False, progress: bool = False):
    """(images, file names) from a .npy/.npz array, an image folder (any depth), or one image file.

    Images of another size or colour mode are refused unless ``convert`` (then resized bilinearly
    and converted, and counted on stderr); unreadable files are skipped and listed on stderr.
    """
    from PIL import Image, UnidentifiedImageError

    if not path.exists():
        raise CLIError(f"{path} does not exist")
    if path.suffix == ".npy":
        return np.load(path), None
    if path.suffix == ".npz":
        with np.load(path) as f:
            return f[f.files[0]], None
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES) if path.is_dir() else [path]
    if not files:
        raise CLIError(f"no images ({', '.join(IMAGE_SUFFIXES)}) found in {path}")
    height, width, channels = image_shape
    mode = "L" if channels == 1 else "RGB"
    images, names, unreadable, mismatched = [], [], [], []
    if progress:
        from tqdm import tqdm

        files = tqdm(files, desc="reading images", unit="img", disable=None)  # silent when not a terminal
    for f in files:
        try:
            with Image.open(f) as im:
                im.load()
                if im.size != (width, height) or im.mode != mode:
                    mismatched.append(f"{f} ({im.size[0]}x{im.size[1]} {im.mode})")
                    if not convert:
                        continue
                    im = im.convert(mode).resize((width, height), Image.BILINEAR)
                images.append(np.asarray(im).reshape(image_shape))
                names.append(str(f))
        except (UnidentifiedImageError, OSError) as error:
            unreadable.append(f"{f} ({error.__class__.__name__})")
    if unreadable:
        print(f"skipped {len(unreadable)} unreadable file(s): {'; '.join(unreadable)}", file=sys.stderr)
    if mismatched and not convert:
        raise CLIError(f"{len(mismatched)} image(s) are not {width}x{height} {mode}, the model's input, e.g. "
                       f"{mismatched[0]}; pass --convert to resize and convert them")
    if mismatched:
        print(f"converted {len(mismatched)} image(s) to {width}x{height} {mode}", file=sys.stderr)
    if not images:
        raise CLIError(f"none of the image files in {path} could be read")
    return np.stack(images), names


def _npz_path(out: str) -> Path:
    """Where ``np.savez`` will write: it appends ``.npz`` unless the name has it."""
    out = Path(out)
    return out if out.suffix == ".npz" else out.with_name(out.name + ".npz")


def _load_model(name_or_dir: str):
    return load_run(name_or_dir) if Path(name_or_dir).is_dir() else load(name_or_dir)


def _cmd_encode(args):
    out = _npz_path(args.out)  # checked before any work, so nothing is lost or wasted
    check_new_output(out, args.overwrite)
    start_keras()
    model = _load_model(args.name)
    images, files = _read_images(Path(args.images), model.image_shape, convert=args.convert)
    codes = model.encode(images)
    tmp = out.with_name(f".{out.name}.tmp.npz")
    np.savez(tmp, packed=codes.packed, bits=codes.bits, files=np.array(files or []))
    os.replace(tmp, out)
    print(f"wrote {len(codes)} {codes.bits}-bit codes to {out}")


def _cmd_index(args):
    folder, out = Path(args.folder), Path(args.out)
    check_new_output(out, args.overwrite)
    if not folder.is_dir():
        raise CLIError(f"{folder} is not a folder of images")
    start_keras()
    model = _load_model(args.name)
    images, files = _read_images(folder, model.image_shape, convert=args.convert, progress=True)
    index = HammingIndex.build(model.encode(images), np.array([str(Path(f).resolve()) for f in files]),
                               kind=args.kind, model=model.identity())
    index.save(out, overwrite=args.overwrite)
    print(f"indexed {len(index)} images with {model.name} ({model.bits} bits, {args.kind}) into {out}")


def _model_of(index):
    """The encoder that built ``index``: its registry name, else the run folder it came from."""
    name, source = index.model.get("name"), index.model.get("source")
    if name in list_models(released_only=True):
        return _load_model(name)
    if source and Path(source).is_dir():
        return _load_model(source)
    raise CLIError(f"the model that built this index ({name}, {source}) cannot be found; rebuild the index")


def _cmd_search(args):
    from PIL import Image


    try:
        index = HammingIndex.load(args.index)
    except FileNotFoundError as error:
        raise CLIError(str(error)) from error
    if not 1 <= args.k <= len(index):
        raise CLIError(f"--k must be between 1 and the {len(index)} indexed images, got {args.k}")
    if args.grid:
        check_new_output(Path(args.grid), overwrite=True)
    start_keras()
    model = _model_of(index)
    queries, names = [], []
    for query in args.queries:
        images, files = _read_images(Path(query), model.image_shape, convert=args.convert)
        queries.append(images)
        names += files or [f"{query}[{i}]" for i in range(len(images))]
    ids, distances = model.search(index, np.concatenate(queries), args.k)
    results = [{"query": q, "results": [{"id": i.item(), "distance": int(d)} for i, d in zip(row_ids, row_d)]}
               for q, row_ids, row_d in zip(names, ids, distances)]
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        for result in results:
            print(result["query"])
            for hit in result["results"]:
                print(f"  {hit['distance']:>3}  {hit['id']}")
    if args.grid:
        def picture(image_id):
            path = Path(str(image_id))
            if not path.is_file():
                return None
            with Image.open(path) as im:
                return np.asarray(im.convert("L" if model.image_shape[-1] == 1 else "RGB"))

        grid = plot_search_grid(Path(args.grid), np.concatenate(queries), names,
                                [[picture(i) for i in row] for row in ids], distances,
                                f"{model.name}: top {args.k} by Hamming distance")
        print(f"wrote {grid}")


def _cmd_evaluate(args):
    model = _load_model(args.name)
    protocol = args.protocol or model.entry.protocol
    evaluator = Evaluator.for_protocol(protocol, data_dir=args.data_dir)
    result = evaluator.evaluate(model, name=model.name)
    print(result)
    if args.json:
        result.save_json(args.json)
    if args.plots:
        for path in evaluator.plot(result, args.plots):
            print(f"wrote {path}")


def _cmd_baseline(args):
    args.dataset = args.dataset.replace("-", "_")
    if args.dataset not in IMAGE_SHAPES:
        raise CLIError(f"unknown dataset {args.dataset!r}; choose from {', '.join(IMAGE_SHAPES)}")
    protocol = args.protocol or ("cifar10-59k" if args.dataset == "cifar10" else "fashion_mnist-59k")
    if get_protocol(protocol).dataset != args.dataset.replace("-", "_"):
        raise CLIError(f"protocol {protocol} does not belong to dataset {args.dataset}")
    data, split = load_protocol(protocol, data_dir=args.data_dir)
    fit_on = split.unlabeled if len(split.unlabeled) else split.train
    hasher = BASELINES[args.method](args.bits, seed=args.seed).fit(data.images[fit_on])
    evaluator = Evaluator.from_split(data, split)
    result = evaluator.evaluate(hasher, name=f"{args.method}-{args.bits}bit")
    print(result)
    if args.json:
        result.save_json(args.json)


def train_config(args):
    """The TrainConfig that the ``train`` arguments describe."""
    return TrainConfig(args.method, args.dataset, args.protocol, args.bits, epochs=args.epochs,
                       batch_size=args.batch_size, width=args.width, learning_rate=args.learning_rate,
                       seed=args.seed, mixed_precision=args.mixed_precision, max_unlabeled=args.max_unlabeled,
                       gan_epochs=args.gan_epochs, eval_every=args.eval_every,
                       method_options=dict(TrainConfig.parse_option(o) for o in args.option))


def _cmd_train(args):
    stop_by = time.time() + 60 * args.budget_minutes if args.budget_minutes else None
    summary = train(train_config(args), out=args.out, data_dir=args.data_dir, verbose=args.verbose, stop_by=stop_by)
    keys = ("name", "status", "metrics", "baselines", "train_seconds") if summary["status"] == "finished" else summary
    print(json.dumps({k: summary[k] for k in keys}, indent=2))


def add_train_arguments(p):
    p.add_argument("method", choices=list(METHODS))
    p.add_argument("--dataset", default="cifar10", help="cifar10 or fashion_mnist")
    p.add_argument("--protocol", default=None, help="split protocol (default: the method's paper protocol)")
    p.add_argument("--bits", type=int, default=48)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--gan-epochs", type=int, default=None, help="fakereg stage-1 epochs (default: --epochs)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--width", type=int, default=64, help="base channel width of the DCGAN-style nets")
    p.add_argument("--learning-rate", type=float, default=2e-4)
    p.add_argument("--mixed-precision", choices=["bfloat16", "float16"], default=None)
    p.add_argument("--eval-every", type=int, default=2, help="epochs between validation mAP evaluations")
    p.add_argument("--max-unlabeled", type=int, default=None, help="subsample the unlabelled pool (quick runs)")
    p.add_argument("--data-dir", default=None, help="dataset folder (default: $GANHASH_ZOO_DATA, then tfds)")
    p.add_argument("--out", default=None, help="run folder; an existing checkpoint there is resumed")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="a constructor argument of the method, e.g. --option features=patches (uspah); repeatable")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--verbose", type=int, default=1)
    p.add_argument("--budget-minutes", type=float, default=None,
                   help="stop at the last epoch checkpoint that fits in this many minutes (rerun to resume)")


def resolve_train_defaults(args):
    args.dataset = args.dataset.replace("-", "_")
    if args.protocol is None:
        args.protocol = METHODS[args.method]["protocol"] if args.dataset == "cifar10" else FASHION_PROTOCOL
    if args.out is None:
        args.out = f"runs/{model_name(args.method, args.dataset, args.bits)}"
    return args


def build_parser():
    parser = argparse.ArgumentParser(prog="ganhash-zoo", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="list registered models")
    p.add_argument("pattern", nargs="?", default="*", help="glob, e.g. 'hashgan-*'")
    p.add_argument("--released", action="store_true", help="only models with weights")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("info", help="registry entry of one model as JSON")
    p.add_argument("name")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("encode", help="encode images into packed binary codes (.npz)")
    p.add_argument("name", help="model name, or a run's exported encoder folder")
    p.add_argument("images", help="image folder, image file, or .npy/.npz array (uint8 0..255 or float 0..1)")
    p.add_argument("--out", required=True, help="output .npz with packed codes, bits and file names")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--convert", action="store_true",
                   help="resize / convert images whose size or colour mode differs from the model's input")
    p.set_defaults(func=_cmd_encode)

    p = sub.add_parser("index", help="index a folder of images (recursive) for search")
    p.add_argument("name", help="model name, or a run's exported encoder folder")
    p.add_argument("folder", help="image folder, searched recursively")
    p.add_argument("--out", required=True, help="index folder to write")
    p.add_argument("--kind", choices=list(KINDS), default="flat",
                   help="flat: exact scan (default); hash: adds a prefix table for fast small-radius queries "
                        "on large collections")
    p.add_argument("--convert", action="store_true", help="resize / convert images to the model's input")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=_cmd_index)

    p = sub.add_parser("search", help="find the indexed images nearest to query images")
    p.add_argument("index", help="an index folder written by 'ganhash-zoo index'")
    p.add_argument("queries", nargs="+", help="query image files or folders")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--convert", action="store_true", help="resize / convert queries to the model's input")
    p.add_argument("--grid", default=None, help="write a PNG: each query, then its top k with distances")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=_cmd_search)

    p = sub.add_parser("evaluate", help="retrieval figures of a model on a protocol")
    p.add_argument("name", help="model name, or a run's exported encoder folder")
    p.add_argument("--protocol", default=None, help="default: the model's own protocol")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--plots", default=None, help="folder for PR / precision@N / retrieval-grid PNGs")
    p.add_argument("--json", default=None, help="write the figures to this JSON file")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("baseline", help="fit and evaluate LSH or ITQ on pixels")
    p.add_argument("method", choices=["lsh", "itq"])
    p.add_argument("--bits", type=int, default=32)
    p.add_argument("--dataset", default="cifar10")
    p.add_argument("--protocol", default=None)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None)
    p.set_defaults(func=_cmd_baseline)

    p = sub.add_parser("train", help="train one method on a protocol (checkpoints resume)")
    add_train_arguments(p)
    p.set_defaults(func=_cmd_train)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "train":
        resolve_train_defaults(args)

    try:
        if args.command in ("evaluate", "baseline", "train"):
            start_keras()
        args.func(args)
    except (CLIError, DatasetError, UnknownModelError, WeightIntegrityError, WeightsNotAvailableError, ValueError,
            TypeError, IndexMismatchError, FileExistsError, FileNotFoundError) as error:
        print(f"ganhash-zoo: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
