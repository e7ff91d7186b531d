"""USPAH (Deng et al., IEEE TIP 2019): unsupervised semantic-preserving adversarial hashing.

Networks: encoder E (image -> code), generator G (code, noise -> image) and a
discriminator D over (image, code) *pairs*: real pairs (x, E(x)) against
generated pairs (G(b), b). The BiGAN-style game makes E and G mutually
coherent; the codes come from E.

Semantic supervision. A similarity S over each batch combines feature
similarity and neighbour similarity:

    C_ij = cosine(f_i, f_j)
    N_ij = |kNN(i) & kNN(j)| / k          (shared k nearest neighbours in the batch)
    A    = feature_weight * C + (1 - feature_weight) * N
    S_ij = +1 if j is among the k best of i by A, or i among those of j;
           else dissimilar_target (0: orthogonal codes, K/2 bits apart; -1: opposite codes)
    W_ij = 1 if S_ij = +1, or A_ij is among the far_fraction lowest of row i (or of row j); else 0

Without a backbone (the ``dcgan`` trunk on pixels) the features f are ours,
since the paper's pretrained CNN is then not there: ``features="pixels"``
(PCA of the pixels) or ``features="patches"`` (unsupervised k-means patch
features, Coates, Lee & Ng 2011; ``nets/features.py``), fitted with
``model.adapt(images)`` before ``fit`` and stored in the model.

Choices behind the defaults (the sweeps are in RESULTS.md, "Defaults chosen
in the pixel era"): a sparse graph (k = 3) with orthogonal targets for dissimilar
pairs (``dissimilar_target=0``); the encoder's adversarial term kept small
(``adversarial_weight=0.01``), since the encoder's side of the pair game
pulls codes away from the semantic targets; and ``far_fraction``: with every
non-neighbour pushed apart (1.0, the paper's loss and the default) the
images of a class that are not among each other's k nearest are pushed apart
too and radius-2 balls empty, so the zoo's recipes push apart only each
row's far half (0.5).

On a pretrained backbone (the zoo's default) USPAH is what the paper
describes: the similarity features are the backbone's own (``features=
"inputs"``), and with ``graph_neighbours`` > 0 ``adapt`` finds each training
image's nearest neighbours over the whole training set (cosine, FAISS) and
batches pair each anchor with one of them, so every batch holds real
neighbour pairs for the in-batch affinity above. G(b, z) generates feature
vectors and D judges (feature vector, code) pairs; the codes learn from the
image's features or its augmented view's, with S from the image itself.

S over the whole training set is more than a batch sees. With
``graph_code_weight`` > 0 (ours, off by default) ``adapt`` also solves the
graph's relaxed hashing objective once (``neighbour_graph.graph_codes``: the
signs of its leading eigenvectors) and each image's code is pulled towards
that target, the view's too, so the codes keep the training set's
neighbourhoods and near-duplicates share the image's target. The batches of
``fit_inputs`` carry the targets; plain images train without the term.

The similarity targets pull neighbours together, and nothing in them tells
an image's near-duplicate from its neighbours. With ``contrastive_weight`` > 0
(ours, off by default; CIBHash's term, as in HashGAN) each image's code is
pulled to its augmented view's and pushed from the batch's other images'.

    L_E = similarity_weight * sum(W * (E(x) E(x)^T / K - S)^2) / sum(W)
        + quantization_weight * mean((|E(x)| - 1)^2) + balance_weight * balance
        + decorrelation_weight * mean_{k != l} corr(h_k, h_l)^2
        + graph_code_weight * mean((E(x) - t(x))^2)
        + contrastive_weight * InfoNCE(E(x), E(T(x)))
        + adversarial_weight * (D(x, E(x)) -> fake)
    L_G = (D(G(b), b) -> real) + cycle_weight * ||E(G(b)) - b||^2
    L_D = (D(x, E(x)) -> real) + (D(G(b), b) -> fake)
"""

from __future__ import annotations

import numpy as np
from keras import ops

from .. import losses
from ..nets import build_encoder, generator, pair_discriminator, trunk
from ..nets.features import PCAFeatures, PatchKMeansFeatures
from .base import GANHasher, register_method
from .data import NeighbourBatches
from .neighbour_graph import graph_codes, nearest_neighbours


def _knn_mask(scores, k):
    """(B, B) 1.0 where column j is among row i's k highest scores (itself included)."""
    _, idx = ops.top_k(scores, k + 1)
    return ops.max(ops.one_hot(idx, ops.shape(scores)[0]), axis=1)


def semantic_similarity(features, neighbours: int, feature_weight: float, dissimilar_target: float = -1.0,
                        far_fraction: float = 1.0):
    """Targets S in {dissimilar_target, +1} and pair weights W in {0, 1} over a batch.

    S is +1 on the symmetric kNN graph of feature plus shared-neighbour affinity. W keeps the
    graph's pairs and, of the rest, those among the ``far_fraction`` lowest affinities of a row
    (or of its column); the pairs in between are left out rather than pushed apart, since many
    of them share the anchor's class without being among its k nearest. ``far_fraction=1``
    weighs every pair (W = 1).
    """
    f = features / (ops.norm(features, axis=-1, keepdims=True) + 1e-6)
    cosine = ops.matmul(f, ops.transpose(f))
    knn = _knn_mask(cosine, neighbours)
    shared = ops.matmul(knn, ops.transpose(knn)) / float(neighbours + 1)
    affinity = feature_weight * cosine + (1.0 - feature_weight) * shared
    graph = _knn_mask(affinity, neighbours)
    similar = ops.maximum(graph, ops.transpose(graph)) > 0
    far = affinity <= ops.quantile(affinity, far_fraction, axis=1, keepdims=True)
    far = ops.logical_or(far, ops.transpose(far))
    weights = ops.where(ops.logical_or(similar, far), 1.0, 0.0)
    return ops.where(similar, 1.0, dissimilar_target), weights


SIMILARITY_FEATURES = ("inputs", "pixels", "patches")  # the backbone's features; PCA of pixels; k-means patches


@register_method
class USPAH(GANHasher):
    method_name = "uspah"
    PLAYERS = ("discriminator", "encoder", "generator")
    LOGS = ("similarity", "quantization", "balance", "decorrelation", "graph_code", "contrast", "e_adversarial",
            "g_adversarial", "cycle")

    def __init__(self, bits=48, image_shape=(32, 32, 3), width=64, seed=None, noise_dim=32, feature_dim=128,
                 neighbours=3, feature_weight=0.5, similarity_weight=1.0, quantization_weight=0.1,
                 balance_weight=0.1, adversarial_weight=0.01, cycle_weight=1.0, dissimilar_target=0.0,
                 decorrelation_weight=0.0, features=None, centroids=256, far_fraction=1.0, graph_neighbours=0,
                 graph_code_weight=0.0, contrastive_weight=0.0, contrast_temperature=0.3, **kwargs):
        features = features or ("inputs" if len(image_shape) == 1 else "pixels")
        if features not in SIMILARITY_FEATURES:
            raise ValueError(f"features must be one of {SIMILARITY_FEATURES}, got {features!r}")
        if not 0.0 < far_fraction <= 1.0:
            raise ValueError(f"far_fraction must be in (0, 1], got {far_fraction!r}")
        if graph_code_weight and not graph_neighbours:
            raise ValueError("graph_code_weight needs the training set's neighbour graph: set graph_neighbours > 0")
        hparams = dict(noise_dim=noise_dim, feature_dim=feature_dim, neighbours=neighbours, features=features,
                       graph_neighbours=graph_neighbours, graph_code_weight=graph_code_weight,
                       contrastive_weight=contrastive_weight, contrast_temperature=contrast_temperature,
                       centroids=centroids, far_fraction=far_fraction,
                       dissimilar_target=dissimilar_target, decorrelation_weight=decorrelation_weight,
                       feature_weight=feature_weight, similarity_weight=similarity_weight,
                       quantization_weight=quantization_weight, balance_weight=balance_weight,
                       adversarial_weight=adversarial_weight, cycle_weight=cycle_weight)
        super().__init__(bits, image_shape, width, seed, hparams, **kwargs)
        self._encoder = build_encoder(trunk(self.image_shape, width, name="encoder_trunk"), self.bits)
        self.generator = generator(self.bits + noise_dim, self.image_shape, width)
        self.discriminator = pair_discriminator(trunk(self.image_shape, width, name="d_trunk"), self.bits)
        if features == "pixels":
            self.features = PCAFeatures(int(np.prod(self.image_shape)), feature_dim, name="pca_features")
        elif features == "patches":
            self.features = PatchKMeansFeatures(self.image_shape, feature_dim, centroids, name="patch_features")
        else:  # the backbone's features are the inputs themselves: nothing to fit
            self.features = None
        self.graph = None  # (N, graph_neighbours) neighbour lists of the training images, found by adapt()
        self.graph_codes = None  # (N, bits) their target codes, found by adapt() only with graph_code_weight

    def players(self):
        return {"discriminator": [self.discriminator], "encoder": [self._encoder], "generator": [self.generator]}

    def adapt(self, images, seed: int = 0, **kwargs):
        """Fit the features that define semantic similarity (call once before ``fit``; nothing to fit on a
        backbone's features) and, with ``graph_neighbours``, find each training image's neighbours (and,
        with ``graph_code_weight``, their target codes)."""
        if self.features is not None:
            self.features.adapt(images, seed=seed, **kwargs)
        if self.hparams["graph_neighbours"]:
            self.graph = nearest_neighbours(self._similarity_features(images), self.hparams["graph_neighbours"])
        if self.hparams["graph_code_weight"]:
            self.graph_codes = graph_codes(self.graph, self.bits, seed)
        return self

    def prepare(self, images, seed: int = 0, views=None):
        return super().prepare(images, seed, views).adapt(images, seed=seed)

    def _similarity_features(self, images, batch_size: int = 1024) -> np.ndarray:
        if self.features is None:
            return np.asarray(images, np.float32)
        return np.concatenate([ops.convert_to_numpy(self.features(np.asarray(images[i : i + batch_size], np.float32)))
                               for i in range(0, len(images), batch_size)])

    def fit_inputs(self, unlabeled, labeled, labels, batch_size: int, seed: int = 0, start_epoch: int = 0):
        """With a neighbour graph, batches of anchors and one graph neighbour of each (so that every
        batch holds neighbour pairs); else the plain shuffled batches."""
        if not self.hparams["graph_neighbours"]:
            return super().fit_inputs(unlabeled, labeled, labels, batch_size, seed, start_epoch)
        if getattr(self, "graph", None) is None or len(self.graph) != len(unlabeled):
            raise RuntimeError("USPAH's neighbour graph is built by model.adapt(train_images) on the images it fits on")
        batches = NeighbourBatches(unlabeled, self.graph, batch_size, seed, start_epoch, self.graph_codes)
        return (batches,), {"shuffle": False}

    def _generate(self, codes, training=True):
        noise = self.noise(ops.shape(codes)[0], self.hparams["noise_dim"])
        return self.generator(ops.concatenate([codes, noise], axis=-1), training=training)

    def generated_sample(self, n=16):
        return ops.convert_to_numpy(self._generate(self.random_bits(n), training=False))

    def fit(self, x=None, y=None, *args, **kwargs):
        if self.features is not None and float(ops.convert_to_numpy(self.features.fitted)) == 0.0:
            raise RuntimeError("USPAH needs its similarity features: call model.adapt(train_images) before fit()")
        if y is not None and self.hparams["graph_code_weight"]:
            self._check_targets(np.shape(y))
        return super().fit(x, y, *args, **kwargs)

    def _check_targets(self, shape):
        """Refuses targets that are not (N, bits) codes (class ids would broadcast silently); a shape of
        unknown rank, as TensorFlow may trace a dataset's, passes here."""
        try:
            dims = tuple(shape)
        except (TypeError, ValueError):
            return
        if len(dims) != 2 or dims[1] not in (None, self.bits):
            raise ValueError(f"USPAH's graph-code targets are {self.bits} bits a row, got shape {dims}: train on "
                             "model.fit_inputs(...) after model.adapt(train_images)")

    def train_step(self, data):
        x, targets, _ = self.unpack_batch(data)
        hp = self.hparams
        if not hp["graph_code_weight"]:
            targets = None  # USPAH learns without labels: anything given beside the images is ignored
        x, views = self.split_views(x)
        if targets is not None:  # where the trace cannot see the shape, the reshape fails rather than broadcasts
            self._check_targets(targets.shape)
            targets = ops.reshape(ops.cast(targets, "float32"), (ops.shape(x)[0], self.bits))
        b = self.random_bits(ops.shape(x)[0])
        fake = ops.stop_gradient(self._generate(b))
        similarity, pair_weights = (ops.stop_gradient(t) for t in semantic_similarity(
            x if self.features is None else self.features(x), hp["neighbours"], hp["feature_weight"],
            hp["dissimilar_target"], hp["far_fraction"]))
        # the contrastive term compares both views; with no views (pixels, plain features) it is left out
        pairs = None if views is None or not hp["contrastive_weight"] else ops.concatenate([x, views], axis=0)
        x = self.mix_views(x, views)  # S comes from the images themselves; the codes learn from either view

        def discriminator_loss():
            h = ops.stop_gradient(self._encoder(x, training=True))
            real = self.discriminator([x, h], training=True)
            generated = self.discriminator([fake, b], training=True)
            return losses.discriminator_loss(real, generated), {}

        logs = self.update("discriminator", discriminator_loss)

        def encoder_loss():
            h = self._encoder(x, training=True)
            terms = {
                "similarity": losses.pairwise_similarity(h, similarity, weights=pair_weights),
                "quantization": losses.quantization(h),
                "balance": losses.bit_balance((h + 1.0) / 2.0),
                "decorrelation": losses.bit_decorrelation(h),
                "graph_code": ops.zeros(()) if targets is None else losses.consistency(h, targets),
                "contrast": ops.zeros(()) if pairs is None else losses.view_contrast(
                    *ops.split(self._encoder(pairs, training=True), 2), hp["contrast_temperature"]),
                # E plays against D: its real pairs should look generated
                "e_adversarial": losses.generator_loss(-self.discriminator([x, h], training=True)),
            }
            total = (hp["similarity_weight"] * terms["similarity"] + hp["quantization_weight"] * terms["quantization"]
                     + hp["balance_weight"] * terms["balance"] + hp["adversarial_weight"] * terms["e_adversarial"]
                     + hp["decorrelation_weight"] * terms["decorrelation"]
                     + hp["graph_code_weight"] * terms["graph_code"] + hp["contrastive_weight"] * terms["contrast"])
            return total, terms

        logs.update(self.update("encoder", encoder_loss))

        def generator_loss():
            generated = self._generate(b)
            adv = losses.generator_loss(self.discriminator([generated, b], training=True))
            cycle = losses.consistency(self._encoder(generated, training=True), b)
            return adv + hp["cycle_weight"] * cycle, {"g_adversarial": adv, "cycle": cycle}

        logs.update(self.update("generator", generator_loss))
        return self.track(logs)
