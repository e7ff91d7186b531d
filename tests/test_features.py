"""USPAH's fixed similarity features (nets/features.py), on real CIFAR-10 images."""

import numpy as np
import pytest
from keras import ops

from ganhash_zoo.nets.features import PatchKMeansFeatures, PCAFeatures

# precision@10 of cosine neighbours (300 validation-split queries against 3,000 labelled images, both
# layers fitted on 2,000 training images; 64 centroids, 32 dimensions), measured 2026-11-26 on 2 cores:
#   seed  patches  pixels  gain
#   0     0.3827   0.2887  0.0940
#   1     0.3840   0.2843  0.0997
#   2     0.3850   0.2880  0.0970      mean 0.097, sd 0.003, min - 3 sd 0.085
MARGIN = 0.06


def features_of(layer, images):
    return np.concatenate([ops.convert_to_numpy(layer(images[i : i + 256].astype("float32")))
                           for i in range(0, len(images), 256)])


def precision_at_10(query_features, db_features, query_labels, db_labels):
    q = query_features / (np.linalg.norm(query_features, axis=1, keepdims=True) + 1e-9)
    d = db_features / (np.linalg.norm(db_features, axis=1, keepdims=True) + 1e-9)
    top = np.argsort(-(q @ d.T), axis=1, kind="stable")[:, :10]
    return float((db_labels[top] == query_labels[:, None]).mean())


def neighbour_gain(cifar, seed):
    data, split = cifar
    rng = np.random.default_rng(seed)
    fit_on = data.images[np.sort(rng.choice(split.unlabeled, 2000, replace=False))]
    queries, database = split.val[:300], split.train[:3000]
    patches = PatchKMeansFeatures((32, 32, 3), 32, centroids=64)
    patches.adapt(fit_on, max_patches=20000, seed=seed)
    pixels = PCAFeatures(32 * 32 * 3, 32)
    pixels.adapt(fit_on, seed=seed)
    q_labels, d_labels = data.labels[queries], data.labels[database]
    return [precision_at_10(features_of(layer, data.images[queries]), features_of(layer, data.images[database]),
                            q_labels, d_labels) for layer in (patches, pixels)]


@pytest.mark.parametrize("seed", [0])
def test_patch_feature_neighbours_share_the_class_more_than_pixel_neighbours(cifar, seed):
    with_patches, with_pixels = neighbour_gain(cifar, seed)
    print(f"\nseed {seed}: precision@10 patches {with_patches:.3f}, pixels {with_pixels:.3f}")
    assert with_patches > with_pixels + MARGIN


def test_patch_features_are_fitted_saved_and_blind_to_brightness(cifar):
    data, split = cifar
    images = data.images[split.unlabeled[:400]].astype("float32")
    layer = PatchKMeansFeatures((32, 32, 3), 16, centroids=16)
    layer.adapt(images, max_patches=4000, seed=0)
    out = features_of(layer, images[:50])
    assert out.shape == (50, 16) and np.isfinite(out).all() and out.std(0).min() > 0
    # every patch is brightness-normalised before it is encoded: a uniform shift changes nothing
    np.testing.assert_allclose(features_of(layer, images[:50] + 20.0), out, rtol=1e-3, atol=1e-3)
    copy = PatchKMeansFeatures.from_config(layer.get_config())
    copy.set_weights(layer.get_weights())
    np.testing.assert_allclose(features_of(copy, images[:50]), out, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="smaller than"):
        PatchKMeansFeatures((4, 4, 1), 8)
