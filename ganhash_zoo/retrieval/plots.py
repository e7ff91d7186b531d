"""PNG figures of a RetrievalResult (matplotlib, headless Agg backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(result, folder: Path) -> list[Path]:
    plt = _pyplot()
    c = result.curves
    label = f"{result.name} ({result.bits} bits)"
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ax.plot(c["recall_at_radius"], c["precision_at_radius"], marker=".", label=label)
    ax.set(xlabel="recall", ylabel="precision", title=f"PR over Hamming radius - {result.protocol}",
           xlim=(0, 1), ylim=(0, 1))
    ax.legend()
    pr = folder / "pr_curve.png"
    fig.savefig(pr, dpi=120, bbox_inches="tight")
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ax.semilogx(c["n"], c["precision_at_n"], marker=".", label=label)
    ax.set(xlabel="N (top retrieved)", ylabel="precision@N", title=f"precision@N - {result.protocol}", ylim=(0, 1))
    ax.legend()
    pn = folder / "precision_at_n.png"
    fig.savefig(pn, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return [pr, pn]


def plot_retrieval_grid(result, path: Path, query_images, db_images, query_labels, db_labels, n_rows=6) -> Path:
    """One row per query: the query, then its top matches framed green (relevant) or red."""
    plt = _pyplot()
    top = result.top_indices
    n_rows = min(n_rows, len(top))
    rows = np.linspace(0, len(top) - 1, n_rows).astype(int)
    k = top.shape[1]
    fig, axes = plt.subplots(n_rows, k + 1, figsize=(1.1 * (k + 1), 1.1 * n_rows), squeeze=False)
    for r, q in enumerate(rows):
        cells = [(query_images[q], None)] + [(db_images[i], i) for i in top[q]]
        for c, (image, db_index) in enumerate(cells):
            ax = axes[r, c]
            ax.imshow(np.squeeze(image), cmap="gray" if image.shape[-1] == 1 else None)
            ax.set_xticks([]), ax.set_yticks([])
            if db_index is not None:
                ql, dl = np.asarray(query_labels[q]), np.asarray(db_labels[db_index])
                relevant = bool(ql == dl) if ql.ndim == 0 else bool((ql * dl).sum() > 0)
                for spine in ax.spines.values():
                    spine.set_edgecolor("tab:green" if relevant else "tab:red")
                    spine.set_linewidth(2.5)
        axes[r, 0].set_ylabel("query", fontsize=7)
    fig.suptitle(f"{result.name} - top {k} by Hamming distance (green: relevant)", fontsize=9)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_search_grid(path: Path, query_images, query_names, result_images, distances, result_names,
                     title: str) -> Path:
    """One row per query: the query, then its nearest images, each captioned with its file name and
    Hamming distance (a missing image leaves its tile empty)."""
    plt = _pyplot()
    n_rows, k = len(query_images), max((len(row) for row in result_images), default=0)
    fig, axes = plt.subplots(n_rows, k + 1, figsize=(1.4 * (k + 1), 1.5 * n_rows + 0.6), squeeze=False,
                             layout="constrained")
    for r in range(n_rows):
        cells = [(query_images[r], f"query\n{_short(Path(query_names[r]).name)}")] + [
            (image, f"{_short(name)}\nd={int(d)}") for image, name, d in zip(result_images[r], result_names[r],
                                                                            distances[r])]
        for c in range(k + 1):
            ax = axes[r, c]
            ax.set_xticks([]), ax.set_yticks([])
            if c < len(cells) and cells[c][0] is not None:
                image, label = cells[c]
                ax.imshow(np.squeeze(image), cmap="gray" if image.shape[-1] == 1 else None)
                ax.set_title(label, fontsize=6)
            else:
                ax.axis("off")
    fig.suptitle(title, fontsize=9)
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)
    return path


def _short(name: str, width: int = 18) -> str:
    """A file name cut to fit under a tile, printable (a newline or control character in it shows as \\n)."""
    name = name.encode("unicode_escape").decode("ascii")
    return name if len(name) <= width else name[: width - 1] + "…"
