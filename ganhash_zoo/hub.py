"""The Hugging Face Hub side of a release: download into the standard cache, build and upload repo folders.

Everything goes through huggingface_hub itself, so HF_ENDPOINT, HF_HOME,
HF_HUB_OFFLINE and the usual token places (``hf auth login``, HF_TOKEN)
work as they do for any Hub model. Integrity is checked by the caller
(:func:`ganhash_zoo.registry.read_verified_files`) against the sha256 in the registry,
so a file that changed on the Hub or in the cache is never loaded.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .cards import model_card
from .registry import WeightsNotAvailableError, read_verified_files

CARD_FILE = "README.md"


def download(entry) -> Path:
    """Folder holding the entry's files, from the HF cache or the Hub at the entry's pinned revision."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError, RevisionNotFoundError


    if not entry.revision:
        raise WeightsNotAvailableError(
            f"{entry.name} has no Hub revision yet (not published); copy its folder into "
            f"$GANHASH_ZOO_WEIGHTS/{entry.name}/ or use a source checkout with weights/."
        )
    paths = []
    for filename in entry.files:
        try:
            paths.append(Path(hf_hub_download(entry.hub_repo, filename, revision=entry.revision)))
        except LocalEntryNotFoundError as error:
            raise WeightsNotAvailableError(
                f"{entry.name}: weights are neither bundled nor in the Hugging Face cache, and the Hub "
                f"({entry.hub_repo}) could not be reached ({error}). Connect once (the files are then cached "
                f"for offline use), or copy them into $GANHASH_ZOO_WEIGHTS/{entry.name}/."
            ) from error
        except (EntryNotFoundError, RevisionNotFoundError) as error:
            raise WeightsNotAvailableError(
                f"{entry.name}: {entry.hub_repo} at revision {entry.revision} has no {filename} ({error}); "
                "this package version's registry does not match the Hub: upgrade ganhash-zoo."
            ) from error
    return paths[0].parent


def build_repo_folder(entry, weights_folder, dest) -> Path:
    """``dest`` filled with exactly what goes to the Hub: the weight files, config.json, and README.md = the card."""

    weights_folder, dest = Path(weights_folder), Path(dest)
    read_verified_files(entry, weights_folder)  # publish only what the registry vouches for
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for filename in entry.files:
        shutil.copy2(weights_folder / filename, dest / filename)
    model_card(entry).save(dest / CARD_FILE)
    return dest


def publish(folder, repo_id: str, revision: str | None = None, private: bool = False, token=None) -> str:
    """Create ``repo_id`` if needed and upload ``folder`` as one commit; returns the commit hash to pin."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)  # token=None: HF_TOKEN or the login cache, never the code
    api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
    if revision:
        api.create_branch(repo_id, branch=revision, exist_ok=True)
    commit = api.upload_folder(repo_id=repo_id, folder_path=str(folder), revision=revision,
                               commit_message="Upload ganhash-zoo release")
    return commit.oid
