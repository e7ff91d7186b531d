"""Write a folder of real photos of mixed sizes and formats, for trying image search as a user would.

    python scripts/demo_photos.py --data-dir ../shared/datasets --out demo_photos

200 CIFAR-10 test images (20 a class), each enlarged to a random size between 48 and 256 pixels a
side and saved as JPEG or PNG under its class name, plus scikit-image's sample photographs (coffee,
a cat, an astronaut, ...) at their own sizes when scikit-image is installed. Nothing is written if
the output folder exists.
"""

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from ganhash_zoo.datasets import load_dataset

SKIMAGE_PHOTOS = ("astronaut", "camera", "chelsea", "coffee", "hubble_deep_field", "immunohistochemistry", "rocket")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="where cifar10-jpeg.tar.gz is (default: $GANHASH_ZOO_DATA)")
    parser.add_argument("--out", type=Path, default=Path("demo_photos"))
    parser.add_argument("--per-class", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=False)
    data = load_dataset("cifar10", data_dir=args.data_dir)
    rng = np.random.default_rng(args.seed)
    test = np.flatnonzero(data.parts == "test")
    written = 0
    for label, name in enumerate(data.class_names):
        for i in rng.choice(test[data.labels[test] == label], args.per_class, replace=False):
            side = int(rng.integers(48, 257))
            image = Image.fromarray(data.images[i]).resize((side, int(side * rng.uniform(0.75, 1.33))),
                                                           Image.BICUBIC)
            image.save(args.out / f"{name}_{i:05d}.{'jpg' if i % 2 else 'png'}", quality=90)
            written += 1
    try:
        from skimage import data as samples
    except ImportError:
        samples = None
    for name in SKIMAGE_PHOTOS if samples else ():
        Image.fromarray(getattr(samples, name)()).save(args.out / f"{name}.png")
        written += 1
    print(f"wrote {written} photos to {args.out}")


if __name__ == "__main__":
    main()
