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
