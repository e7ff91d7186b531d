"""Publish released models to the Hugging Face Hub and pin the registry to the uploaded commit.

    python scripts/publish.py dshgan-fashion-mnist-48bit --repo-prefix ganhash-zoo/ --dry-run
    python scripts/publish.py --all --repo-prefix ganhash-zoo/ [--revision BRANCH]

For each model, builds the exact repo folder (weight files, config.json that
ganhash_zoo.load() reads, README.md = the model card) under --out, then
creates the repo and uploads it in one commit, and records that commit in
ganhash_zoo/released.json so load() downloads exactly those bytes.
--dry-run only writes the folders. The token comes from huggingface_hub's
usual places (HF_TOKEN, `hf auth login`); HF_ENDPOINT selects the server.
"""

import argparse
import sys
from pathlib import Path

from ganhash_zoo.hub import build_repo_folder, publish
from ganhash_zoo.releases import record_revision
from ganhash_zoo.registry import bundled_weights_dir, get_entry, list_models, released_file


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("name", nargs="?", help="a released model name")
    which.add_argument("--all", action="store_true", help="every released model")
    parser.add_argument("--repo-prefix", required=True, help="Hub namespace, e.g. 'ganhash-zoo/'")
    parser.add_argument("--revision", default=None, help="branch to commit to (default: main)")
    parser.add_argument("--private", action="store_true")
    parser.add_argument("--dry-run", action="store_true", help="write the folders, upload nothing")
    parser.add_argument("--out", type=Path, default=Path("hub_release"), help="where the repo folders are built")
    args = parser.parse_args(argv)

    names = list_models(released_only=True) if args.all else [args.name]
    if not names:
        print("no released models: release a run first with scripts/release.py")
        return 1
    prefix = args.repo_prefix if args.repo_prefix.endswith("/") else args.repo_prefix + "/"
    for name in names:
        entry = get_entry(name)
        if not entry.released:
            print(f"{name} is not released: release a run first with scripts/release.py")
            return 1
        folder = build_repo_folder(entry, bundled_weights_dir() / name, args.out / name)
        repo_id = prefix + name
        if args.dry_run:
            print(f"{name}: {folder} ready for {repo_id} ({', '.join(sorted(p.name for p in folder.iterdir()))})")
            continue
        commit = publish(folder, repo_id, revision=args.revision, private=args.private)
        record_revision(released_file(), name, commit, repo_id)
        print(f"{name}: uploaded to {repo_id} at {commit}; registry pinned to it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
