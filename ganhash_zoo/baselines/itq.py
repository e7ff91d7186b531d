"""Iterative quantisation (Gong & Lazebnik, CVPR 2011): PCA, then the rotation
that brings the projected data closest to the corners of the hypercube."""

import numpy as np

from .base import ProjectionHasher


class ITQ(ProjectionHasher):
    """PCA to ``bits`` dimensions (scikit-learn) followed by ``n_iter`` ITQ rotation steps.

    ``max_fit_samples`` bounds the PCA/rotation fit (20,000 by default, which
    keeps the fit to seconds on 2 cores); encoding covers every image.
    """

    name = "itq"

    def __init__(self, bits, seed=0, n_iter=50, max_fit_samples=20000, **kwargs):
        super().__init__(bits, seed, **kwargs)
        self.n_iter, self.max_fit_samples = n_iter, max_fit_samples

    def _learn_projection(self, centred):
        from sklearn.decomposition import PCA  # scikit-learn takes 0.7 s to import: not on every CLI call

        if self.bits > min(centred.shape):
            raise ValueError(f"ITQ needs at least {self.bits} samples and feature dimensions, got {centred.shape}")
        rng = np.random.default_rng(self.seed)
        if len(centred) > self.max_fit_samples:
            centred = centred[rng.choice(len(centred), self.max_fit_samples, replace=False)]
        pca = PCA(n_components=self.bits, random_state=self.seed).fit(centred)
        v = centred @ pca.components_.T
        rotation, _ = np.linalg.qr(rng.standard_normal((self.bits, self.bits)))
        for _ in range(self.n_iter):
            b = np.sign(v @ rotation)
            u, _, wt = np.linalg.svd(b.T @ v)
            rotation = (u @ wt).T
        return (pca.components_.T @ rotation).astype(np.float32)


class InvariantITQ(ITQ):
    """ITQ on features whitened against what an augmentation does to them: ``fit(features, views)``.

    Why: plain ITQ keeps the directions that vary most, and a flip or a small shift moves some of them
    as far as another image would. Whitened by the covariance of (features - their views' features),
    its PCA keeps the directions that vary most between images *relative to* how far an augmentation
    moves them, so a near-duplicate keeps more of its bits (RESULTS.md, "Supervised codes with instance
    bits"). Encoding needs no views: codes are sign((x - mean) @ projection), the whitening folded in.
    """

    name = "itq-invariant"
    RIDGE = 0.1  # added to the difference covariance, times its mean eigenvalue: directions no view moved stay finite

    def fit(self, images, views=None) -> "InvariantITQ":
        if views is None:
            raise ValueError("InvariantITQ fits on images and their augmented views: fit(images, views)")
        x, v = self.features(images), self.features(views)
        if x.shape != v.shape:
            raise ValueError(f"{len(v)} views of shape {v.shape[1:]} for {len(x)} images of shape {x.shape[1:]}")
        moved = (x - v).astype(np.float64)
        covariance = moved.T @ moved / (2 * len(moved))
        covariance += self.RIDGE * np.trace(covariance) / len(covariance) * np.eye(len(covariance))
        values, vectors = np.linalg.eigh(covariance)
        whitening = vectors / np.sqrt(values)
        self.mean_ = x.mean(0)
        self.projection_ = (whitening @ self._learn_projection((x - self.mean_) @ whitening)).astype(np.float32)
        return self
