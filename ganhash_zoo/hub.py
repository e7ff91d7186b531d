"""Hugging Face Hub downloads of released weights (the standard HF cache, pinned revisions)."""

from __future__ import annotations

from pathlib import Path


def download(entry) -> Path:
    """Folder with the entry's files from the HF cache, or the Hub when online.

    Honours HF_HUB_OFFLINE and HF_ENDPOINT through huggingface_hub itself;
    the caller verifies sha256 before anything is loaded.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    from .zoo import WeightsNotAvailableError

    try:
        return Path(snapshot_download(entry.hub_repo, revision=entry.revision, allow_patterns=list(entry.files)))
    except LocalEntryNotFoundError as error:
        raise WeightsNotAvailableError(
            f"{entry.name}: weights are neither bundled nor in the Hugging Face cache, and the Hub "
            f"({entry.hub_repo}) could not be reached ({error}). Connect once, or copy the files into "
            f"$GANHASH_ZOO_WEIGHTS/{entry.name}/."
        ) from error
