"""Fixed (not trained) image features that define USPAH's semantic similarity graph.

The paper builds its graph on features of a pretrained CNN; no pretrained network
is available offline, so the features are fitted on the training images themselves
by ``adapt(images)`` and stored as weights:

* :class:`PCAFeatures`: PCA of the pixels -- the neighbourhoods ITQ on pixels
  already captures;
* :class:`PatchKMeansFeatures`: the single-layer unsupervised features of
  Coates, Lee & Ng (AISTATS 2011): 6x6 patches, brightness/contrast
  normalised and ZCA-whitened, each encoded by its distances to k-means
  centroids ("triangle": max(0, mean distance - distance)), summed over the
  four quadrants of the image, then standardised and projected by PCA. Their
  cosine neighbours share the query's class more often than pixel PCA's
  (RESULTS.md, "Defaults chosen in the pixel era").
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

FIT_SAMPLES = 8000  # images whose features fit the final standardisation + PCA


def _fit_pca(x: np.ndarray, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean, components as a (features, dim) matrix); columns past the data's rank stay zero."""
    from sklearn.decomposition import PCA

    pca = PCA(n_components=min(dim, *x.shape), random_state=seed).fit(x)
    components = np.zeros((x.shape[1], dim), np.float32)
    components[:, : pca.n_components_] = pca.components_.T
    return pca.mean_.astype(np.float32), components


@keras.saving.register_keras_serializable("ganhash_zoo")
class PCAFeatures(layers.Layer):
    """Fixed linear features: (flattened pixels / 255 - mean) @ components. Fitted by ``adapt``."""

    def __init__(self, input_dim, feature_dim, **kwargs):
        super().__init__(**{**kwargs, "trainable": False})
        self.input_dim, self.feature_dim = int(input_dim), int(feature_dim)
        self.mean = self.add_weight(shape=(self.input_dim,), initializer="zeros", trainable=False, name="mean")
        self.components = self.add_weight(shape=(self.input_dim, self.feature_dim), initializer="zeros",
                                          trainable=False, name="components")
        self.fitted = self.add_weight(shape=(), initializer="zeros", trainable=False, name="fitted")

    def adapt(self, images, max_samples=20000, seed=0):
        x = np.asarray(images).reshape(len(images), -1).astype(np.float32) / 255.0
        if len(x) > max_samples:
            x = x[np.random.default_rng(seed).choice(len(x), max_samples, replace=False)]
        mean, components = _fit_pca(x, self.feature_dim, seed)
        self.mean.assign(mean)
        self.components.assign(components)
        self.fitted.assign(1.0)

    def call(self, images):
        x = ops.reshape(ops.cast(images, "float32"), (ops.shape(images)[0], -1)) / 255.0
        return ops.matmul(x - self.mean, self.components)

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim, "feature_dim": self.feature_dim}


@keras.saving.register_keras_serializable("ganhash_zoo")
class PatchKMeansFeatures(layers.Layer):
    """Coates-Lee-Ng patch features (see the module docstring), projected to ``feature_dim``. Fitted by ``adapt``."""

    NORM_EPS, ZCA_EPS = 10.0, 0.1  # the paper's constants for pixels in 0..255

    def __init__(self, image_shape, feature_dim, centroids=256, patch=6, **kwargs):
        super().__init__(**{**kwargs, "trainable": False})
        self.image_shape, self.feature_dim = tuple(int(s) for s in image_shape), int(feature_dim)
        self.centroids, self.patch = int(centroids), int(patch)
        h, w, c = self.image_shape
        if min(h, w) < self.patch:
            raise ValueError(f"images of {h}x{w} are smaller than the {self.patch}x{self.patch} patches")
        self.patch_dim, pooled = self.patch * self.patch * c, 4 * self.centroids

        def weight(shape, name):
            return self.add_weight(shape=shape, initializer="zeros", trainable=False, name=name)

        self.whitening = weight((self.patch, self.patch, c, self.patch_dim), "whitening")  # ZCA as a convolution
        self.whitened_mean = weight((self.patch_dim,), "whitened_mean")
        self.filter_sums = weight((self.patch_dim,), "filter_sums")
        self.codebook = weight((self.centroids, self.patch_dim), "codebook")
        self.pooled_mean, self.pooled_scale = weight((pooled,), "pooled_mean"), weight((pooled,), "pooled_scale")
        self.components = weight((pooled, self.feature_dim), "components")
        self.fitted = weight((), "fitted")

    # -- fitting ------------------------------------------------------------
    def adapt(self, images, max_patches=100_000, seed=0):
        from sklearn.cluster import MiniBatchKMeans

        images = np.asarray(images, dtype=np.float32).reshape(-1, *self.image_shape)
        rng = np.random.default_rng(seed)
        n = min(max_patches, 50 * len(images))
        h, w, _ = self.image_shape
        which, ys, xs = rng.integers(0, len(images), n), rng.integers(0, h - self.patch + 1, n), \
            rng.integers(0, w - self.patch + 1, n)
        patches = np.stack([images[i, y : y + self.patch, x : x + self.patch] for i, y, x in zip(which, ys, xs)])
        patches = patches.reshape(n, -1)
        patches = (patches - patches.mean(1, keepdims=True)) / np.sqrt(patches.var(1, keepdims=True) + self.NORM_EPS)
        mean = patches.mean(0)
        values, vectors = np.linalg.eigh(np.cov(patches - mean, rowvar=False))
        zca = (vectors @ np.diag(1.0 / np.sqrt(np.maximum(values, 0.0) + self.ZCA_EPS)) @ vectors.T).astype(np.float32)
        kmeans = MiniBatchKMeans(self.centroids, random_state=seed, batch_size=4096, n_init=3)
        kmeans.fit((patches - mean) @ zca)
        self.whitening.assign(zca.reshape(self.patch, self.patch, -1, self.patch_dim))
        self.whitened_mean.assign((mean @ zca).astype(np.float32))
        self.filter_sums.assign(zca.sum(0))
        self.codebook.assign(kmeans.cluster_centers_.astype(np.float32))

        sample = images[np.sort(rng.choice(len(images), min(FIT_SAMPLES, len(images)), replace=False))]
        pooled = np.concatenate([ops.convert_to_numpy(self.pooled(sample[i : i + 256]))
                                 for i in range(0, len(sample), 256)])
        centre, scale = pooled.mean(0), pooled.std(0) + 1e-6
        pca_mean, components = _fit_pca((pooled - centre) / scale, self.feature_dim, seed)
        # PCA's own centring of the standardised features is folded into the mean
        self.pooled_mean.assign((centre + scale * pca_mean).astype(np.float32))
        self.pooled_scale.assign(scale.astype(np.float32))
        self.components.assign(components)
        self.fitted.assign(1.0)

    # -- features -----------------------------------------------------------
    def pooled(self, images):
        """(B, 4 * centroids): triangle codes of every patch, summed over the image's four quadrants."""
        x = ops.cast(images, "float32")
        size = self.patch
        projected = ops.conv(x, self.whitening, strides=1, padding="valid")  # patch . ZCA, before normalising
        mean = ops.mean(ops.average_pool(x, size, strides=1, padding="valid"), axis=-1, keepdims=True)
        mean_sq = ops.mean(ops.average_pool(x * x, size, strides=1, padding="valid"), axis=-1, keepdims=True)
        spread = ops.sqrt(ops.maximum(mean_sq - mean * mean, 0.0) * self.patch_dim / (self.patch_dim - 1)
                          + self.NORM_EPS)
        whitened = (projected - mean * self.filter_sums) / spread - self.whitened_mean
        squared = (ops.sum(whitened * whitened, axis=-1, keepdims=True)
                   - 2.0 * ops.einsum("bhwc,kc->bhwk", whitened, self.codebook)
                   + ops.sum(self.codebook * self.codebook, axis=-1))
        distance = ops.sqrt(ops.maximum(squared, 0.0))
        triangle = ops.relu(ops.mean(distance, axis=-1, keepdims=True) - distance)
        rows, cols = ops.shape(triangle)[1], ops.shape(triangle)[2]
        half_r, half_c = (rows + 1) // 2, (cols + 1) // 2
        quadrants = [ops.sum(triangle[:, r0 : r0 + half_r, c0 : c0 + half_c], axis=(1, 2))
                     for r0 in (0, rows - half_r) for c0 in (0, cols - half_c)]
        return ops.concatenate(quadrants, axis=-1)

    def call(self, images):
        return ops.matmul((self.pooled(images) - self.pooled_mean) / self.pooled_scale, self.components)

    def get_config(self):
        return {**super().get_config(), "image_shape": list(self.image_shape), "feature_dim": self.feature_dim,
                "centroids": self.centroids, "patch": self.patch}
