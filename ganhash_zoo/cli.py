"""``ganhash-zoo``: list, inspect, encode with, index and search with, evaluate and train hashing models."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from .baselines import BASELINES
from .config import BACKBONE_CHOICES, TrainConfig
from .feature_cache import model_inputs
from .pretrained import DEFAULT_BACKBONE, BackboneUnavailableError
from .quiet import start_keras
from .datasets import DatasetError, get_protocol, load_protocol
from .datasets.catalogue import IMAGE_SHAPES, model_name
from .files import check_new_output, write_output
from .image_files import IMAGE_SUFFIXES, UnreadableImage, list_images, read_image
from .papers import FASHION_PROTOCOL, METHODS
from .registry import (UnknownModelError, WeightIntegrityError, WeightsNotAvailableError, info,
                       list_models, registry)
from .retrieval import Evaluator, HammingIndex, IndexMismatchError, PackedCodes
from .retrieval.index import KINDS, is_saved_index
from .retrieval.plots import plot_search_grid
from .training import RunBusyError, epochs_done, train
from .zoo import load, load_run



DESCRIPTION = "List, inspect, encode with, index and search with, evaluate and train GAN-based hashing models."
MODEL_HELP = ("a released model's name (ganhash-zoo list), or a run's exported encoder folder written as a path, "
              "e.g. ./runs/NAME/encoder")
CONVERT_HELP = ("models on pixels only: resize / convert images whose size or colour mode differs from the model's "
                "input (models on a backbone read any size)")
DATA_HELP = "dataset folder (default: $GANHASH_ZOO_DATA, then tensorflow-datasets, which needs a network)"


class CLIError(Exception):
    """A problem with the command's input, reported as one line."""


def _cmd_list(args):
    entries = registry()
    rows = [entries[n] for n in list_models(args.pattern, released_only=args.released)]
    print(f"{'name':<32} {'method':<8} {'protocol':<18} {'bits':>4}  released")
    for e in rows:
        print(f"{e.name:<32} {e.method:<8} {e.protocol:<18} {e.bits:>4}  {'yes' if e.released else 'no'}")


def _cmd_info(args):
    print(json.dumps(info(args.name), indent=2))


CHUNK = 256  # images decoded and encoded at a time, so a large folder never sits in memory whole


def _encode_path(model, path: Path, convert: bool = False, progress: bool = False, keep_images: bool = False):
    """(codes, names, images or None) of a .npy/.npz array, an image folder (any depth) or one image file.

    A model on a backbone reads images of any size; a pixel model refuses images of another size or
    colour mode unless ``convert`` (then resized bilinearly and converted, and counted on stderr).
    Unreadable files are skipped and listed on stderr with the reason.
    """
    if not path.exists():
        raise CLIError(f"{path} does not exist")
    if path.suffix in (".npy", ".npz"):
        try:
            if path.suffix == ".npy":
                images = np.load(path, allow_pickle=False, mmap_mode="r")
            else:
                with np.load(path, allow_pickle=False) as f:
                    images = f[f.files[0]]
        except (OSError, ValueError, IndexError) as error:
            raise CLIError(f"{path} is not a readable array file: {error}") from error
        return model.encode(images), None, images if keep_images else None
    files, others = list_images(path)
    if others and path.is_dir():
        print(f"skipped {len(others)} file(s) that are not images ({', '.join(IMAGE_SUFFIXES)}), e.g. "
              f"{ascii(str(others[0]))}", file=sys.stderr)
    if not files:
        raise CLIError(f"no images ({', '.join(IMAGE_SUFFIXES)}) found in {path}")
    shape = model.image_shape
    mode = "L" if shape and shape[-1] == 1 else "RGB"
    codes, names, kept, unreadable, mismatched = [], [], [], [], []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(files), desc="reading images", unit="img", disable=None)  # silent off a terminal
    for start in range(0, len(files), CHUNK):
        chunk, chunk_names = [], []
        for f in files[start : start + CHUNK]:
            try:
                image = read_image(f, mode)
            except UnreadableImage as error:
                unreadable.append(f"{ascii(str(f))}: {error}")
                continue
            if shape and image.shape != tuple(shape):
                mismatched.append(f"{ascii(str(f))} ({image.shape[1]}x{image.shape[0]} {mode})")
                if not convert:
                    continue
                image = _resized(image, shape)
            chunk.append(image)
            chunk_names.append(str(f))
        if chunk and not (mismatched and not convert):
            codes.append(model.encode(np.stack(chunk) if shape else chunk).packed)
            names += chunk_names
            kept += chunk if keep_images else []
        if bar is not None:
            bar.update(len(files[start : start + CHUNK]))
    if bar is not None:
        bar.close()
    if unreadable:
        print(f"skipped {len(unreadable)} unreadable file(s): {'; '.join(unreadable)}", file=sys.stderr)
    if mismatched and not convert:
        raise CLIError(f"{len(mismatched)} image(s) are not {shape[1]}x{shape[0]} {mode}, the model's input, e.g. "
                       f"{mismatched[0]}; pass --convert to resize and convert them")
    if mismatched:
        print(f"converted {len(mismatched)} image(s) to {shape[1]}x{shape[0]} {mode}", file=sys.stderr)
    if not names:
        raise CLIError(f"none of the image files in {path} could be read")
    return PackedCodes(np.concatenate(codes), model.bits), names, kept if keep_images else None


def _resized(image: np.ndarray, shape) -> np.ndarray:
    from PIL import Image

    height, width, channels = shape
    im = Image.fromarray(image[..., 0] if channels == 1 else image)
    return np.asarray(im.resize((width, height), Image.BILINEAR)).reshape(shape)


def _npz_path(out: str) -> Path:
    """Where ``np.savez`` will write: it appends ``.npz`` unless the name has it."""
    out = Path(out)
    return out if out.suffix == ".npz" else out.with_name(out.name + ".npz")


def _looks_like_path(text: str) -> bool:
    return os.sep in text or "/" in text or text.startswith(".")


def load_model(name_or_dir: str):
    """A registry name always means the verified registry model; a run folder only when written as a path
    (``./runs/x/encoder``), so a folder that happens to carry a model's name is never taken for it."""
    if _looks_like_path(name_or_dir):
        if not Path(name_or_dir).is_dir():
            raise CLIError(f"{name_or_dir} is not a folder holding an exported encoder")
        return load_run(name_or_dir)
    return load(name_or_dir)


def _printable(name) -> str:
    text = str(name)
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def _is_codes_file(path: Path) -> bool:
    """A .npz that ``encode`` wrote (what --overwrite may replace)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            return {"packed", "bits"} <= set(f.files)
    except (OSError, ValueError):
        return False


def _cmd_encode(args):
    out = _npz_path(args.out)  # checked before any work, so nothing is lost or wasted
    check_new_output(out, args.overwrite, is_ours=_is_codes_file, inputs=[args.images])
    start_keras()
    model = load_model(args.name)
    codes, files, _ = _encode_path(model, Path(args.images), convert=args.convert)
    check_new_output(out, args.overwrite, is_ours=_is_codes_file, inputs=[args.images])  # what changed meanwhile
    write_output(out, lambda staging: np.savez(staging, packed=codes.packed, bits=codes.bits,
                                               files=np.array(files or [])))
    print(f"wrote {len(codes)} {codes.bits}-bit codes to {out}")


def _cmd_index(args):
    folder, out = Path(args.folder), Path(args.out)
    check_new_output(out, args.overwrite, is_ours=is_saved_index, inputs=[folder])
    if not folder.is_dir():
        raise CLIError(f"{folder} is not a folder of images")
    start_keras()
    model = load_model(args.name)
    codes, files, _ = _encode_path(model, folder, convert=args.convert, progress=True)
    index = HammingIndex.build(codes, np.array([str(Path(f).resolve()) for f in files]),
                               kind=args.kind, model=model.identity())
    index.save(out, overwrite=args.overwrite, inputs=[folder])
    print(f"indexed {len(index)} images with {model.name} ({model.bits} bits, {args.kind}) into {out}")


def _model_of(index, named: str | None = None):
    """The encoder that built ``index``, verified: the model the user names (a registry name or a run
    folder), else the registry model the index records; either way its encoder's sha256 must be the one
    the index recorded. The folder an index's meta.json names is never loaded on the index's word."""
    recorded = index.model.get("encoder_sha256")
    if not recorded:
        raise CLIError("the index records no encoder sha256, so the model that built it cannot be verified; "
                       "rebuild it with ganhash-zoo index")
    name = named or index.model.get("name")
    if not named and name not in list_models(released_only=True):
        raise CLIError(f"the index was built with {name!r}, which is not a released model; name the run that built "
                       "it with --model ./runs/NAME/encoder")
    model = load_model(name)
    if model.identity()["encoder_sha256"] != recorded:
        raise CLIError(f"{name} is not the encoder that built this index (its sha256 differs from the one the "
                       "index recorded); use the model that built it, or rebuild the index")
    return model


def _cmd_search(args):
    try:
        index = HammingIndex.load(args.index)
    except FileNotFoundError as error:
        raise CLIError(str(error)) from error
    if not 1 <= args.k <= len(index):
        raise CLIError(f"--k must be between 1 and the {len(index)} indexed images, got {args.k}")
    if args.grid:
        check_new_output(Path(args.grid), args.overwrite, inputs=args.queries)
    start_keras()
    model = _model_of(index, args.model)
    codes, queries, names = [], [], []
    for query in args.queries:
        query_codes, files, images = _encode_path(model, Path(query), convert=args.convert, keep_images=True)
        codes.append(query_codes.packed)
        queries += list(images)
        names += files or [f"{query}[{i}]" for i in range(len(images))]
    index.check_model(model.identity())
    ids, distances = index.search(PackedCodes(np.concatenate(codes), model.bits), args.k)
    results = [{"query": q, "results": [{"id": i.item(), "distance": int(d)} for i, d in zip(row_ids, row_d)]}
               for q, row_ids, row_d in zip(names, ids, distances)]
    if args.json:
        print(json.dumps(results, indent=1))
    else:  # one line a name: a newline or other control character in a file name is escaped
        for result in results:
            print(_printable(result["query"]))
            for hit in result["results"]:
                print(f"  {hit['distance']:>3}  {_printable(hit['id'])}")
    if args.grid:
        def picture(image_id):
            """The indexed image to show, or None (an empty tile) if it is gone or no longer an image."""
            try:
                return read_image(Path(str(image_id)), "L" if model.image_shape and model.image_shape[-1] == 1
                                  else "RGB")
            except UnreadableImage:
                return None

        check_new_output(Path(args.grid), args.overwrite, inputs=args.queries)  # what changed meanwhile
        write_output(Path(args.grid), lambda staging: plot_search_grid(
            staging, queries, names, [[picture(i) for i in row] for row in ids], distances,
            [[Path(str(i)).name for i in row] for row in ids], f"{model.name}: top {args.k} by Hamming distance"))
        print(f"wrote {args.grid}")


def _cmd_evaluate(args):
    if args.json:
        check_new_output(Path(args.json), args.overwrite)
    model = load_model(args.name)
    evaluator = model.evaluator(args.data_dir, args.protocol, args.split)
    result = evaluator.evaluate(model.encoder, name=model.name)
    print(result)
    if args.json:
        result.save_json(args.json, args.overwrite)
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
    if args.json:
        check_new_output(Path(args.json), args.overwrite)
    pixels, split = load_protocol(protocol, data_dir=args.data_dir)
    data = model_inputs(pixels, args.backbone)
    fit_on = split.unlabeled if len(split.unlabeled) else split.train
    hasher = BASELINES[args.method](args.bits, seed=args.seed).fit(data.images[fit_on])
    evaluator = Evaluator.from_split(data, split)
    result = evaluator.evaluate(hasher, name=f"{args.method}-{args.bits}bit")
    print(result)
    if args.json:
        result.save_json(args.json, args.overwrite)


def train_config(args):
    """The TrainConfig that the ``train`` arguments describe."""
    return TrainConfig(args.method, args.dataset, args.protocol, args.bits, backbone=args.backbone, epochs=args.epochs,
                       batch_size=args.batch_size, width=args.width, learning_rate=args.learning_rate,
                       seed=args.seed, mixed_precision=args.mixed_precision, max_unlabeled=args.max_unlabeled,
                       gan_epochs=args.gan_epochs, eval_every=args.eval_every,
                       method_options=dict(TrainConfig.parse_option(o) for o in args.option))


def _cmd_train(args):
    if args.budget_minutes is not None and not args.budget_minutes > 0:
        raise CLIError(f"--budget-minutes must be a positive number of minutes, got {args.budget_minutes}")
    config = train_config(args)
    stop_by = None if args.budget_minutes is None else time.time() + 60 * args.budget_minutes
    try:
        summary = train(config, out=args.out, data_dir=args.data_dir, verbose=args.verbose, stop_by=stop_by)
    except KeyboardInterrupt:
        done = epochs_done(Path(args.out))
        raise CLIError(f"interrupted; {args.out} resumes after epoch {done} (its last checkpoint) when the same "
                       "command is run again") from None
    keys = ("name", "status", "metrics", "baselines", "train_seconds") if summary["status"] == "finished" else summary
    print(json.dumps({k: summary[k] for k in keys}, indent=2))


def add_train_arguments(p):
    p.add_argument("method", choices=list(METHODS))
    p.add_argument("--dataset", default="cifar10", help="cifar10 or fashion_mnist")
    p.add_argument("--protocol", default=None, help="split protocol (default: the method's paper protocol)")
    p.add_argument("--bits", type=int, default=48)
    p.add_argument("--backbone", choices=BACKBONE_CHOICES, default=DEFAULT_BACKBONE,
                   help="a frozen pretrained backbone whose cached features the method learns from (default), or "
                        "dcgan: learn from pixels with the from-scratch DCGAN trunk")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--gan-epochs", type=int, default=None, help="fakereg stage-1 epochs (default: --epochs)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--width", type=int, default=64,
                   help="hidden units of the dense nets on a backbone's features; base channel width of the DCGAN nets")
    p.add_argument("--learning-rate", type=float, default=2e-4)
    p.add_argument("--mixed-precision", choices=["bfloat16", "float16"], default=None)
    p.add_argument("--eval-every", type=int, default=2, help="epochs between validation mAP evaluations")
    p.add_argument("--max-unlabeled", type=int, default=None, help="subsample the unlabelled pool (quick runs)")
    p.add_argument("--data-dir", default=None, help=DATA_HELP)
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
    parser = argparse.ArgumentParser(prog="ganhash-zoo", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="list registered models")
    p.add_argument("pattern", nargs="?", default="*", help="glob, e.g. 'hashgan-*'")
    p.add_argument("--released", action="store_true", help="only models with weights")
    p.set_defaults(func=_cmd_list)

    p = sub.add_parser("info", help="registry entry of one model as JSON")
    p.add_argument("name")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("encode", help="encode images into packed binary codes (.npz)")
    p.add_argument("name", help=MODEL_HELP)
    p.add_argument("images", help="image folder, image file, or .npy/.npz array (uint8 0..255 or float 0..1)")
    p.add_argument("--out", required=True, help="output .npz with packed codes, bits and file names")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing output of this kind (never a folder holding the inputs or the current one)")
    p.add_argument("--convert", action="store_true", help=CONVERT_HELP)
    p.set_defaults(func=_cmd_encode)

    p = sub.add_parser("index", help="index a folder of images (recursive) for search")
    p.add_argument("name", help=MODEL_HELP)
    p.add_argument("folder", help="image folder, searched recursively")
    p.add_argument("--out", required=True, help="index folder to write")
    p.add_argument("--kind", choices=list(KINDS), default="flat",
                   help="flat: exact scan (default); hash: adds a prefix table for fast small-radius queries "
                        "on large collections")
    p.add_argument("--convert", action="store_true", help=CONVERT_HELP)
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing output of this kind (never a folder holding the inputs or the current one)")
    p.set_defaults(func=_cmd_index)

    p = sub.add_parser("search", help="find the indexed images nearest to query images")
    p.add_argument("index", help="an index folder written by 'ganhash-zoo index'")
    p.add_argument("queries", nargs="+", help="query image files or folders")
    p.add_argument("--k", type=int, default=10, help="how many of the nearest indexed images to return per query")
    p.add_argument("--model", default=None,
                   help="the model that built the index, if not the released model it records: a run's encoder "
                        "folder written as a path (./runs/NAME/encoder); its sha256 must match the index's")
    p.add_argument("--convert", action="store_true", help=CONVERT_HELP)
    p.add_argument("--grid", default=None, help="write a PNG: each query, then its top k with file names and distances")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing output of this kind (never a folder holding the inputs or the current one)")
    p.set_defaults(func=_cmd_search)

    p = sub.add_parser("evaluate", help="retrieval figures of a model on a protocol")
    p.add_argument("name", help=MODEL_HELP)
    p.add_argument("--protocol", default=None, help="default: the model's own protocol")
    p.add_argument("--split", choices=["test", "val"], default="test",
                   help="the protocol's test queries (default), or its validation split (what recipes are chosen on)")
    p.add_argument("--data-dir", default=None, help=DATA_HELP)
    p.add_argument("--plots", default=None, help="folder for PR / precision@N / retrieval-grid PNGs")
    p.add_argument("--json", default=None, help="write the figures to this JSON file")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing output of this kind (never a folder holding the inputs or the current one)")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("baseline", help="fit and evaluate LSH or ITQ on a protocol")
    p.add_argument("method", choices=["lsh", "itq"], help="random hyperplanes (LSH) or iterative quantisation (ITQ)")
    p.add_argument("--bits", type=int, default=32, help="code length")
    p.add_argument("--dataset", default="cifar10", help="cifar10 or fashion_mnist")
    p.add_argument("--protocol", default=None, help="default: cifar10-59k or fashion_mnist-59k")
    p.add_argument("--backbone", choices=BACKBONE_CHOICES, default=DEFAULT_BACKBONE,
                   help="fit on this pretrained backbone's features (default, as the zoo's bar does), or dcgan: pixels")
    p.add_argument("--data-dir", default=None, help=DATA_HELP)
    p.add_argument("--seed", type=int, default=0, help="seed of the projection (LSH) or the initial rotation (ITQ)")
    p.add_argument("--json", default=None, help="write the figures to this JSON file")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing output of this kind (never a folder holding the inputs or the current one)")
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
        sys.stdout.flush()  # output still buffered meets a closed pipe here, inside the handler, not at exit
    except BrokenPipeError:  # the reader stopped early (`| head`): not an error to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit flush cannot fail again
        return 1
    except (CLIError, DatasetError, UnknownModelError, WeightIntegrityError, WeightsNotAvailableError, ValueError,
            TypeError, IndexMismatchError, RunBusyError, BackboneUnavailableError, OSError) as error:
        print(f"ganhash-zoo: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
