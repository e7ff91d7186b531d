"""The user-facing paths, run once per Keras backend: test_backends.py runs this file in a
subprocess under torch and JAX and compares with the same function run under TensorFlow.

    KERAS_BACKEND=jax python tests/user_paths.py DATA_DIR WORK_DIR OUT_JSON
"""

import contextlib
import io
import json
import sys
from pathlib import Path

import numpy as np

MODEL = "dshgan-fashion-mnist-48bit"


def run_user_paths(data_dir, work_dir) -> dict:
    """import, list_models, load, encode, evaluate, index/search, the CLI, and fine-tuning on real images."""
    import keras
    from PIL import Image

    import ganhash_zoo
    from ganhash_zoo.cli import main as cli
    from ganhash_zoo.datasets import load_dataset
    from ganhash_zoo.methods.gradients import TrainingBackendError
    from ganhash_zoo.retrieval import Evaluator

    keras.utils.set_random_seed(0)
    work_dir = Path(work_dir)
    report = {"backend": keras.backend.backend(), "released": MODEL in ganhash_zoo.list_models(released_only=True)}
    data = load_dataset("fashion_mnist", data_dir=data_dir)
    images, labels = data.images[:300], data.labels[:300]  # a few hundred: JAX's CPU convolutions are slow
    hasher = ganhash_zoo.load(MODEL)
    report["codes"] = hasher.encode(images).packed.tolist()
    evaluator = Evaluator(images[:50], labels[:50], images[50:], labels[50:], cutoffs=(None, 100))
    report["metrics"] = {k: float(v) for k, v in evaluator.evaluate(hasher, name=MODEL).metrics.items()}
    index = hasher.index(images[50:])
    ids, distances = hasher.search(index, images[:5], k=3)
    report["search"] = {"ids": np.asarray(ids).tolist(), "distances": np.asarray(distances).tolist()}

    folder = work_dir / "images"
    folder.mkdir()
    for i in range(8):
        Image.fromarray(images[i, ..., 0]).save(folder / f"{i}.png")
    with contextlib.redirect_stdout(io.StringIO()):
        rc = [cli(["info", MODEL]), cli(["encode", MODEL, str(folder), "--out", str(work_dir / "codes.npz")]),
              cli(["index", MODEL, str(folder), "--out", str(work_dir / "index")])]
    with contextlib.redirect_stdout(io.StringIO()) as search_out:
        rc.append(cli(["search", str(work_dir / "index"), str(folder / "3.png"), "--k", "2", "--json"]))
    report["cli_rc"] = rc
    report["cli_codes"] = np.load(work_dir / "codes.npz")["packed"].tolist()
    report["cli_search"] = json.loads(search_out.getvalue())

    # fine-tuning the encoder alone: plain compile + fit on the backbone's features, towards its own codes' signs
    encoder = hasher.encoder
    before = [np.array(w) for w in encoder.get_weights()]
    inputs = hasher.features(images[:128])
    targets = np.sign(hasher.codes_of_inputs(inputs))
    encoder.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    history = encoder.fit(inputs, targets, batch_size=64, epochs=1, verbose=0)
    report["fine_tune_loss"] = float(history.history["loss"][-1])
    report["fine_tune_changed"] = any(not np.array_equal(a, b) for a, b in zip(before, encoder.get_weights()))

    # the whole GAN: trains on tensorflow and torch, refuses JAX with a message that says what to do
    gan = hasher.trainable_model()
    try:
        gan.compile(learning_rate=1e-4)
        args, kwargs = gan.fit_inputs(inputs, inputs[:64], labels[:64], batch_size=32)
        gan_history = gan.fit(*args, epochs=1, steps_per_epoch=2, verbose=0, **kwargs)
        report["gan"] = {k: float(v[-1]) for k, v in gan_history.history.items()}
    except TrainingBackendError as error:
        report["gan"] = f"refused: {error}"
    return report


if __name__ == "__main__":
    data_dir, work_dir, out_json = sys.argv[1:]
    Path(out_json).write_text(json.dumps(run_user_paths(data_dir, work_dir)))
