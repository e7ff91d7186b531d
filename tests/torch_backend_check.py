"""Run under KERAS_BACKEND=torch by test_methods.py: one fit epoch per method, and
encoder outputs for weights saved by the TensorFlow process.

    python tests/torch_backend_check.py WEIGHTS_DIR OUT_JSON
"""

import json
import os
import sys

os.environ["KERAS_BACKEND"] = "torch"
import keras  # noqa: E402

from ganhash_zoo.methods import METHODS  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from method_fixtures import build_model, fit_once, probe_images, tiny_data  # noqa: E402


def main(weights_dir, out_json):
    assert keras.backend.backend() == "torch"
    x, _ = tiny_data()
    report = {}
    for name in METHODS:
        model = build_model(name)
        model.compile()
        history = fit_once(model, name)
        losses = {k: float(v[-1]) for k, v in history.history.items()}
        fresh = build_model(name)
        fresh.load_weights(os.path.join(weights_dir, f"{name}.weights.h5"))
        report[name] = {
            "losses": losses,
            "codes_from_tf_weights": keras.ops.convert_to_numpy(fresh.encoder(probe_images())).tolist(),
        }
    for stage_class in {cls.first_stage for cls in METHODS.values() if cls.first_stage}:
        stage = stage_class(image_shape=(28, 28, 1), width=8, seed=0)
        stage.compile()
        history = stage.fit(x, batch_size=16, epochs=1, verbose=0)
        report[stage.method_name] = {"losses": {k: float(v[-1]) for k, v in history.history.items()}}
    with open(out_json, "w") as f:
        json.dump(report, f)


if __name__ == "__main__":
    main(*sys.argv[1:])
