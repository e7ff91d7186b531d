"""HashGAN (Dizaji et al., CVPR 2018): unsupervised hashing with a generator in the loop.

Networks: a generator G([u, b]) fed noise u and random bits b; one
convolutional trunk shared by the encoder E (K-bit hash head) and the
discriminator D (real/fake head). Sharing the trunk turns the adversarial
game into a data-dependent regulariser of the hash features.

Loss of the encoder/discriminator player, with t = (E(x) + 1) / 2:

    L_ED = L_adv(D)                                   real vs generated
         + w(step) * ( entropy_weight      * sum_k H(t_k)               minimum entropy
                     + balance_weight      * sum_k f_k log f_k + ...    uniform frequency
                     + consistency_weight  * ||t(x) - t(T(x))||^2       T: small rotation/shift/flip
                     + contrastive_weight  * InfoNCE(h(x), h(T(x)))    the batch's other images as negatives
                     + independence_weight * ||W^T W - I||^2            hash-layer weights
                     + decorrelation_weight * mean_{k != l} corr(t_k, t_l)^2 )   codes over the batch
         + collaborative_weight * ||t(G([u, b])) - b01||^2              E recovers G's bits
         + triplet_weight * triplet(E(G(u,b)), E(G(u',b)), E(G(u'',b')))

Loss of the generator: feature matching on the shared trunk (as in the
public reimplementation) plus the collaborative term.

On a pretrained backbone (the zoo's default) every term keeps its meaning
in the backbone's feature space: x is an image's pooled feature vector, the
shared trunk a dense layer on it, G([u, b]) generates feature vectors, D
tells real feature vectors from generated ones, and T(x) is the feature
vector of the image's cached augmented view (flipped, shifted up to 3 px),
the paper's small transform. ``w(step)`` ramps the
hashing terms in over ``hash_warmup_steps`` (the paper switches them on after
a first GAN-only phase).

The decorrelation term is ours: without it the bits of the pixel trunk came
out strongly correlated (RESULTS.md, "Defaults chosen in the pixel era").
The contrastive term is ours too (off by default; CIBHash's): the
consistency term pulls a view's code to its image's but pushes nothing
apart, so codes that keep near-duplicates apart from the rest of their
class need it.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from .. import losses
from ..nets import build_encoder, generator, mlp_head, trunk
from .base import GANHasher, register_method


@register_method
class HashGAN(GANHasher):
    method_name = "hashgan"
    PLAYERS = ("encoder_discriminator", "generator")
    LOGS = ("d_adv", "entropy", "balance", "consistency", "contrast", "independence", "decorrelation", "collaborative",
            "triplet", "g_feature_matching")

    def __init__(self, bits=48, image_shape=(32, 32, 3), width=64, seed=None, noise_dim=64,
                 entropy_weight=0.5, balance_weight=1.0, consistency_weight=1.0, independence_weight=0.1,
                 collaborative_weight=1.0, triplet_weight=0.5, triplet_margin=0.5, hash_warmup_steps=0,
                 decorrelation_weight=1.0, contrastive_weight=0.0, contrast_temperature=0.3, fused_passes=True,
                 **kwargs):
        hparams = dict(fused_passes=fused_passes, noise_dim=noise_dim, entropy_weight=entropy_weight,
                       balance_weight=balance_weight,
                       consistency_weight=consistency_weight, independence_weight=independence_weight,
                       decorrelation_weight=decorrelation_weight, contrastive_weight=contrastive_weight,
                       contrast_temperature=contrast_temperature, collaborative_weight=collaborative_weight,
                       triplet_weight=triplet_weight, triplet_margin=triplet_margin,
                       hash_warmup_steps=hash_warmup_steps)
        super().__init__(bits, image_shape, width, seed, hparams, **kwargs)
        self.trunk = trunk(self.image_shape, width, name="shared_trunk")
        features = self.trunk.output_shape[-1]
        self.hash_layer = mlp_head(features, self.bits, name="hash_head")
        self.real_fake = mlp_head(features, 1, name="real_fake_head")
        self.generator = generator(noise_dim + self.bits, self.image_shape, width)
        # T(x): on pixels a random small transform; on a backbone the cached features of each image's
        # augmented view (flip, shift) stand in for it
        self.augment = None if self.on_features else keras.Sequential([
            layers.RandomFlip("horizontal", seed=seed),
            layers.RandomTranslation(0.1, 0.1, fill_mode="reflect", seed=seed),
            layers.RandomRotation(10 / 360, fill_mode="reflect", seed=seed),
        ], name="small_transform")
        self._encoder = build_encoder(self.trunk, self.bits, head=self.hash_layer)

    def players(self):
        return {"encoder_discriminator": [self.trunk, self.hash_layer, self.real_fake], "generator": [self.generator]}

    def _bit_probabilities(self, features):
        return ops.sigmoid(2.0 * ops.cast(self.hash_layer(features), "float32"))

    def _generate(self, bits_pm, batch_size, training=True):
        noise = self.noise(batch_size, self.hparams["noise_dim"])
        return self.generator(ops.concatenate([noise, bits_pm], axis=-1), training=training)

    def generated_sample(self, n=16):
        return ops.convert_to_numpy(self._generate(self.random_bits(n), n, training=False))

    def train_step(self, data):
        x, _, _ = self.unpack_batch(data)
        x, views = self.split_views(x)
        if views is None:
            views = x if self.augment is None else self.augment(x, training=True)
        if self.hparams["fused_passes"]:
            return self._fused_step(x, views)
        return self._separate_step(x, views)

    def _hashing_terms(self, t, t_aug, t_fake, t_pos, b01):
        hp = self.hparams
        terms = {
            "entropy": losses.bit_entropy(t),
            "balance": losses.bit_balance(t),
            "consistency": losses.consistency(t, t_aug),
            "contrast": losses.view_contrast(2 * t - 1, 2 * t_aug - 1, hp["contrast_temperature"]),
            "independence": losses.independence(self.hash_layer.trainable_variables[0]),
            "decorrelation": losses.bit_decorrelation(t),
            "collaborative": losses.collaborative(t_fake, b01),
            "triplet": losses.triplet(t_fake, t_pos, ops.roll(t_fake, 1, axis=0), hp["triplet_margin"]),
        }
        hashing = (hp["entropy_weight"] * terms["entropy"] + hp["balance_weight"] * terms["balance"]
                   + hp["consistency_weight"] * terms["consistency"] + hp["contrastive_weight"] * terms["contrast"]
                   + hp["independence_weight"] * terms["independence"]
                   + hp["decorrelation_weight"] * terms["decorrelation"])
        ranking = hp["collaborative_weight"] * terms["collaborative"] + hp["triplet_weight"] * terms["triplet"]
        return hashing, ranking, terms

    def _fused_step(self, x, x_aug):
        """One trunk pass over [real, augmented, generated, generated with the same bits] for E/D, one
        generator pass for both generated batches, and one trunk pass over [real, generated] for G.

        The trunk normalises each image on its own (LayerNorm), so stacking batches changes no feature.
        """
        hp = self.hparams
        n = ops.shape(x)[0]
        b = self.random_bits(n)
        b01 = (b + 1.0) / 2.0
        fakes = ops.stop_gradient(self._generate(ops.concatenate([b, b], axis=0), 2 * n))
        warm = self.ramp(hp["hash_warmup_steps"])
        stacked = ops.concatenate([x, x_aug, fakes], axis=0)

        def encoder_discriminator_loss():
            features = self.trunk(stacked, training=True)
            f_real, f_fake = features[:n], features[2 * n:3 * n]
            adv = losses.discriminator_loss(self.real_fake(f_real), self.real_fake(f_fake))
            t_all = self._bit_probabilities(features)
            hashing, ranking, terms = self._hashing_terms(t_all[:n], t_all[n:2 * n], t_all[2 * n:3 * n],
                                                          t_all[3 * n:], b01)
            return adv + warm * hashing + ranking, {"d_adv": adv, **terms}

        logs = self.update("encoder_discriminator", encoder_discriminator_loss)

        def generator_loss():
            features = self.trunk(ops.concatenate([x, self._generate(b, n)], axis=0), training=True)
            f_fake = features[n:]
            fm = losses.feature_matching(ops.stop_gradient(features[:n]), f_fake)
            col = losses.collaborative(self._bit_probabilities(f_fake), b01)
            return fm + hp["collaborative_weight"] * col, {"g_feature_matching": fm}

        logs.update(self.update("generator", generator_loss))
        return self.track(logs)

    def _separate_step(self, x, x_aug):
        """The step as first written: a network pass per input (6 trunk, 3 generator passes); kept for the
        throughput comparison in scripts/bench_methods.py."""
        hp = self.hparams
        n = ops.shape(x)[0]
        b = self.random_bits(n)
        b01 = (b + 1.0) / 2.0
        fake = ops.stop_gradient(self._generate(b, n))
        fake_same_bits = ops.stop_gradient(self._generate(b, n))
        warm = self.ramp(hp["hash_warmup_steps"])

        def encoder_discriminator_loss():
            f_real = self.trunk(x, training=True)
            f_fake = self.trunk(fake, training=True)
            adv = losses.discriminator_loss(self.real_fake(f_real), self.real_fake(f_fake))
            t = self._bit_probabilities(f_real)
            t_aug = self._bit_probabilities(self.trunk(x_aug, training=True))
            t_fake = self._bit_probabilities(f_fake)
            t_pos = self._bit_probabilities(self.trunk(fake_same_bits, training=True))
            hashing, ranking, terms = self._hashing_terms(t, t_aug, t_fake, t_pos, b01)
            return adv + warm * hashing + ranking, {"d_adv": adv, **terms}

        logs = self.update("encoder_discriminator", encoder_discriminator_loss)

        def generator_loss():
            generated = self._generate(b, n)
            f_fake = self.trunk(generated, training=True)
            fm = losses.feature_matching(ops.stop_gradient(self.trunk(x, training=True)), f_fake)
            col = losses.collaborative(self._bit_probabilities(f_fake), b01)
            return fm + hp["collaborative_weight"] * col, {"g_feature_matching": fm}

        logs.update(self.update("generator", generator_loss))
        return self.track(logs)
