"""Train and release every planned model that is not released yet, within a time budget.

    python scripts/train_zoo.py --data-dir ../shared/datasets --budget-minutes 120
    python scripts/train_zoo.py --only 'dshgan-cifar10-*' 'ssah-cifar10-*' --jobs 2

Models are taken in zoo order (CIFAR-10 at 48 bits for each method, then 32,
64 and 16 bits, then Fashion-MNIST) with the recipe of ganhash_zoo/recipes.py.
Each trains in its own process into runs/NAME (log: runs/NAME.log) and
checkpoints every epoch; a run that the budget cuts short stops at an epoch
checkpoint and resumes on the next invocation. A finished run that beats ITQ
on its protocol's headline mAP and on precision@r2 is released at once
(weights/NAME, registry figures of the shipped weights, model card); one that
does not stays in runs/ and is reported. Ends with a table of what it did.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import subprocess
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

from ganhash_zoo.cards import write_cards
from ganhash_zoo.datasets import get_protocol
from ganhash_zoo.papers import METHODS
from ganhash_zoo.registry import CIFAR10_BITS, bundled_weights_dir, registry, released_file
from ganhash_zoo.releases import BelowBarError, release_run
from ganhash_zoo.training import RESULTS, RUN_CONFIG, STATE

REPO = Path(__file__).resolve().parents[1]
CIFAR10_BIT_ORDER = (48, 32, 64, 16)  # the bit length users reach for first
assert sorted(CIFAR10_BIT_ORDER) == sorted(CIFAR10_BITS)
FINISH_SECONDS = 240  # export, test-split evaluation and LSH/ITQ after the last epoch
MIN_START_SECONDS = 420  # do not start a model with less than this left


def zoo_order() -> list[str]:
    """Every planned model: CIFAR-10 at 48 bits for each method, then 32, 64 and 16 bits, then Fashion-MNIST."""
    entries, methods = registry(), list(METHODS)
    cifar = [f"{m}-cifar10-{b}bit" for b in CIFAR10_BIT_ORDER for m in methods]
    rest = sorted((n for n in entries if n not in cifar), key=lambda n: methods.index(entries[n].method))
    return cifar + rest


def planned_unreleased(patterns=("*",)) -> list[str]:
    """Names in zoo order that match any glob in ``patterns`` and have no released weights."""
    entries = registry()
    return [n for n in zoo_order() if not entries[n].released and any(fnmatch.fnmatch(n, p) for p in patterns)]


def run_training(name: str, runs: Path, data_dir: str | None, stop_by: float, hard_stop: float) -> dict:
    """Train ``name`` in a child process until it finishes or ``stop_by``; returns a status row."""
    config = registry()[name].recipe
    out = runs / name
    started = time.time()
    args = [sys.executable, "-m", "ganhash_zoo.cli", "train", *config.cli_args(), "--eval-every",
            str(config.eval_every), "--out", str(out), "--verbose", "2",
            "--budget-minutes", f"{max(stop_by - time.time(), 1) / 60:.2f}"]
    if data_dir:
        args += ["--data-dir", data_dir]
    with open(runs / f"{name}.log", "a") as log:
        log.write(f"\n# {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(args)}\n")
        log.flush()
        child = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        try:
            child.wait(timeout=max(hard_stop - time.time(), 1))
        except subprocess.TimeoutExpired:  # an epoch overran the budget: its checkpoint is the one before
            child.terminate()
            child.wait()
    row = {"name": name, "minutes": round((time.time() - started) / 60, 1), "config": config}
    if (out / RESULTS).exists():
        return {**row, "status": "finished", "results": json.loads((out / RESULTS).read_text())}
    done = json.loads((out / STATE).read_text())["epochs_done"] if (out / STATE).exists() else 0
    if child.returncode == 0 or (out / RUN_CONFIG).exists():
        return {**row, "status": f"paused at epoch {done}/{config.epochs}"}
    return {**row, "status": f"failed (exit {child.returncode}, see {runs / name}.log)"}


def release_if_good(row: dict, runs: Path) -> dict:
    """Release a finished run that meets the bar; otherwise say why not."""
    if row["status"] != "finished":
        return row
    try:
        release_run(runs / row["name"], bundled_weights_dir(), released_file())
    except BelowBarError as below:
        return {**row, "status": "below bar: " + "; ".join(below.shortfalls)}
    return {**row, "status": "released"}


def table(rows: list[dict]) -> str:
    lines = ["| model | status | headline mAP | ITQ | precision@r2 | ITQ | minutes |", "|---|---|---|---|---|---|---|"]
    for row in rows:
        figures = ["", "", "", ""]
        if "results" in row:
            results = row["results"]
            metric = get_protocol(results["protocol"]).headline_metric
            itq = results["baselines"]["itq"]
            figures = [f"{metric} {results['metrics'][metric]:.4f}", f"{itq[metric]:.4f}",
                       f"{results['metrics']['precision@r2']:.4f}", f"{itq['precision@r2']:.4f}"]
        lines.append(f"| {row['name']} | {row['status']} | " + " | ".join(figures) + f" | {row['minutes']} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget-minutes", type=float, default=600.0, help="stop cleanly before this much time")
    parser.add_argument("--jobs", type=int, default=1, help="trainings at once (e.g. on a 16-core GPU machine)")
    parser.add_argument("--only", nargs="+", default=["*"], metavar="PATTERN", help="model name globs")
    parser.add_argument("--data-dir", default=None, help="dataset folder (default: $GANHASH_ZOO_DATA, then tfds)")
    parser.add_argument("--runs", type=Path, default=REPO / "runs", help="folder of the run folders")
    parser.add_argument("--dry-run", action="store_true", help="list what would be trained, with its recipe")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")

    todo = planned_unreleased(args.only)
    if args.dry_run or not todo:
        for name in todo:
            print(registry()[name].train_command())
        print(f"{len(todo)} model(s) to train" if todo else "nothing to train: every matching model is released")
        return 0
    args.runs.mkdir(parents=True, exist_ok=True)
    deadline = time.time() + 60 * args.budget_minutes
    rows, queue = [], list(todo)
    with ThreadPoolExecutor(args.jobs) as pool:
        running = set()
        while queue or running:
            while queue and len(running) < args.jobs and deadline - time.time() > MIN_START_SECONDS:
                name = queue.pop(0)
                print(f"[train_zoo] training {name} (log: {args.runs / name}.log)", flush=True)
                running.add(pool.submit(run_training, name, args.runs, args.data_dir,
                                        deadline - FINISH_SECONDS, deadline))
            if not running:
                break
            finished, running = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                row = release_if_good(future.result(), args.runs)
                print(f"[train_zoo] {row['name']}: {row['status']}", flush=True)
                rows.append(row)
    rows += [{"name": name, "status": "not started (budget)", "minutes": 0} for name in queue]
    if any(row["status"] == "released" for row in rows):
        print(f"wrote {write_cards(REPO / 'model_cards')} card(s)")
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
