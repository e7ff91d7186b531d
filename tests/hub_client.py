"""Run as a fresh process, the way a user would, against the Hub that HF_ENDPOINT names.

    python tests/hub_client.py load NAME CODES.npy     # load(NAME), save the codes of a fixed probe batch
    python tests/hub_client.py publish ARGS...         # scripts/publish.py ARGS

huggingface_hub reads HF_ENDPOINT / HF_HOME / HF_HUB_OFFLINE when imported,
hence one process per scenario. GANHASH_TEST_RELEASED points the registry at
a test's released.json. A refused load exits 3 with the error on stderr.
"""

import os
import runpy
import sys
from pathlib import Path

import numpy as np

from ganhash_zoo import registry, zoo

registry.released_file = lambda: Path(os.environ["GANHASH_TEST_RELEASED"])

if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "publish":
        sys.argv = ["publish.py", *args]
        runpy.run_path(str(Path(__file__).resolve().parents[1] / "scripts" / "publish.py"), run_name="__main__")
    else:
        name, out = args
        try:
            hasher = zoo.load(name)
        except (zoo.WeightsNotAvailableError, zoo.WeightIntegrityError) as error:
            print(f"{type(error).__name__}: {error}", file=sys.stderr)
            sys.exit(3)
        probe = np.random.default_rng(0).integers(0, 256, (8, *hasher.image_shape), dtype=np.uint8)
        np.save(out, hasher.encode(probe).packed)
