"""DSH-GAN (Qiu et al., SIGIR 2017): deep semantic hashing with a label-conditioned GAN.

A generator G(z, y) synthesises images of a chosen class. One CNN trunk with
three streams -- hash (K bits, tanh), adversary (real vs synthetic) and
classification -- learns from *real-synthetic triplets*: a real image of
class y (anchor), a synthetic image of class y (positive) and a synthetic
image of another class (negative).

    L_CNN = adversarial_weight * L_adv(real -> 1, synthetic -> 0)       labelled + unlabelled real
          + triplet_weight * max(0, m + ||h_a - h_p||^2 - ||h_a - h_n||^2)   per bit
          + classification_weight * (CE(real, y) + synthetic_class_weight * CE(synthetic, y_G))
          + quantization_weight * (|h| - 1)^2
          + balance_weight * sum_k f_k log f_k + ...                     (our addition, off by default)
          + consistency_weight * ||h(x) - h(T(x))||^2                    (our addition, off by default)
          + contrastive_weight * InfoNCE(h(x), h(T(x)))                  (our addition, off by default)
    L_G   = L_adv(synthetic -> 1) + classification_weight * CE(G(z, y), y)

The hash stream learns from the triplets alone, and they hold only while the
generator's classes differ: without more, the real codes can draw into one
radius-2 ball (measured at 16 bits, RESULTS.md). The bit-balance term (HashGAN's
uniform-frequency term, over the real anchors) keeps each bit firing for
half of a batch. Codes that gather a class still tie an image's near-duplicate
with the images of its class that share its code; the contrastive term
(CIBHash's, as in HashGAN) pulls each labelled image's code to its augmented
view's and pushes it from the batch's other images', so the class keeps more
codes, at a cost in class retrieval (RESULTS.md, "DSH-GAN: how many copies a
contrastive term buys").

On a pretrained backbone (the zoo's default) G(z, y) synthesises class-
conditional feature vectors, the CNN is a dense trunk with the same three
streams on feature vectors, and the triplets are real-synthetic triplets in
feature space; each real input is the image's features or its augmented
view's, at random (data augmentation). With ``tail_block`` the CNN's
trunk starts with the backbone's last blocks, fine-tuned by the CNN's loss:
real images enter as those blocks' input maps, synthetic feature vectors
after them.

Single-label data uses softmax classification, multi-hot labels sigmoid.
Semi-supervised: feed ``SemiSupervisedBatches(labeled, labels, unlabeled)``;
the unlabelled images join the adversarial stream only. Fully supervised:
``fit(images, labels)``.
"""

from __future__ import annotations

import keras
from keras import ops

from .. import losses
from ..nets import build_encoder, generator, mlp_head, trunk
from .base import GANHasher, register_method


@register_method
class DSHGAN(GANHasher):
    method_name = "dshgan"
    PLAYERS = ("cnn", "generator")
    TAIL_TUNING = True
    LOGS = ("adversarial", "triplet", "classification", "quantization", "balance", "consistency", "contrast",
            "g_adversarial", "g_classification")

    def __init__(self, bits=48, image_shape=(32, 32, 3), width=64, seed=None, num_classes=10, noise_dim=64,
                 adversarial_weight=1.0, triplet_weight=1.0, triplet_margin=0.5, classification_weight=1.0,
                 synthetic_class_weight=0.5, quantization_weight=0.1, balance_weight=0.0, consistency_weight=0.0,
                 contrastive_weight=0.0, contrast_temperature=0.3, fused_passes=True, **kwargs):
        hparams = dict(fused_passes=fused_passes, num_classes=num_classes, noise_dim=noise_dim, adversarial_weight=adversarial_weight,
                       triplet_weight=triplet_weight, triplet_margin=triplet_margin,
                       classification_weight=classification_weight, synthetic_class_weight=synthetic_class_weight,
                       quantization_weight=quantization_weight, balance_weight=balance_weight,
                       consistency_weight=consistency_weight, contrastive_weight=contrastive_weight,
                       contrast_temperature=contrast_temperature)
        super().__init__(bits, image_shape, width, seed, hparams, **kwargs)
        self.trunk = trunk(self.image_shape, width, name="cnn_trunk")
        features = self.trunk.output_shape[-1]
        self.hash_layer = mlp_head(features, self.bits, name="hash_stream")
        self.adversary = mlp_head(features, 1, name="adversary_stream")
        self.classifier = mlp_head(features, num_classes, name="classification_stream")
        self.generator = generator(noise_dim + num_classes, self.image_shape, width)
        self._encoder = self.tailed(build_encoder(self.trunk, self.bits, head=self.hash_layer))

    def players(self):
        return {"cnn": [self.trunk, self.hash_layer, self.adversary, self.classifier, *self.tuned_networks()],
                "generator": [self.generator]}

    def _generate(self, class_ids, training=True):
        one_hot = ops.one_hot(ops.cast(class_ids, "int32"), self.hparams["num_classes"])
        noise = self.noise(ops.shape(one_hot)[0], self.hparams["noise_dim"])
        return self.generator(ops.concatenate([noise, one_hot], axis=-1), training=training)

    def generated_sample(self, n=16):
        return ops.convert_to_numpy(self._generate(ops.arange(n) % self.hparams["num_classes"], training=False))

    def _condition_labels(self, y):
        """Class ids to condition G on: the label, or one of a multi-hot row's labels."""
        if len(y.shape) == 1:
            return ops.cast(y, "int32")
        return ops.cast(keras.random.categorical(ops.log(ops.cast(y, "float32") + 1e-6), 1,
                                                 seed=self.seed_generator)[:, 0], "int32")

    def train_step(self, data):
        x, y, x_unlabeled = self.unpack_batch(data)
        if y is None:
            raise ValueError("DSH-GAN needs labels: fit(images, labels) or SemiSupervisedBatches")
        x, x_views = self.split_views(x)
        compared = self.hparams["consistency_weight"] or self.hparams["contrastive_weight"]
        views = None if x_views is None or not compared else (x, x_views)
        x = self.mix_views(x, x_views)
        if x_unlabeled is not None:
            x_unlabeled = self.mix_views(*self.split_views(x_unlabeled))
        real = x if x_unlabeled is None else ops.concatenate([x, x_unlabeled], axis=0)
        y_pos = self._condition_labels(y)
        shift = keras.random.randint(ops.shape(y_pos), 1, self.hparams["num_classes"], seed=self.seed_generator)
        y_neg = (y_pos + ops.cast(shift, "int32")) % self.hparams["num_classes"]
        if self.hparams["fused_passes"]:  # one generator pass for both triplet members, one trunk pass for all
            synthetic = ops.stop_gradient(self._generate(ops.concatenate([y_pos, y_neg], axis=0)))
            n_real, n_pos = ops.shape(real)[0], ops.shape(y_pos)[0]

            def features():
                stacked = ops.concatenate([self.pooled(real), synthetic], axis=0)
                f = self.trunk(stacked, training=True)  # LayerNorm: per-image, so stacking changes nothing
                return f[:n_real], f[n_real:n_real + n_pos], f[n_real + n_pos:]
        else:  # as first written, a pass per input; kept for the comparison in scripts/bench_methods.py
            positive = ops.stop_gradient(self._generate(y_pos))
            negative = ops.stop_gradient(self._generate(y_neg))

            def features():
                return (self.trunk(self.pooled(real), training=True), self.trunk(positive, training=True),
                        self.trunk(negative, training=True))
        return self._update_players(x, y, y_pos, features, views)

    def _update_players(self, x, y, y_pos, features, views=None):
        hp = self.hparams

        def cnn_loss():
            f_real, f_pos, f_neg = features()
            n_lab = ops.shape(x)[0]
            h_anchor = ops.tanh(self.hash_layer(f_real[:n_lab]))
            h_pos, h_neg = ops.tanh(self.hash_layer(f_pos)), ops.tanh(self.hash_layer(f_neg))
            fake_logits = self.adversary(ops.concatenate([f_pos, f_neg], axis=0))
            terms = {
                "adversarial": losses.discriminator_loss(self.adversary(f_real), fake_logits),
                "triplet": losses.triplet(h_anchor, h_pos, h_neg, hp["triplet_margin"]),
                "classification": losses.classification(self.classifier(f_real[:n_lab]), y)
                + hp["synthetic_class_weight"] * losses.classification(self.classifier(f_pos), y_pos),
                "quantization": losses.quantization(h_anchor),
                "balance": losses.bit_balance((h_anchor + 1.0) / 2.0),
            }
            if views is not None:  # the codes of an image and of its augmented view T(x)
                h, h_view = ops.split(ops.tanh(self.hash_layer(
                    self.trunk(self.pooled(ops.concatenate(views, axis=0)), training=True))), 2)
                terms["consistency"] = losses.consistency(h, h_view)
                terms["contrast"] = losses.view_contrast(h, h_view, hp["contrast_temperature"])
            total = (hp["adversarial_weight"] * terms["adversarial"] + hp["triplet_weight"] * terms["triplet"]
                     + hp["classification_weight"] * terms["classification"]
                     + hp["quantization_weight"] * terms["quantization"] + hp["balance_weight"] * terms["balance"]
                     + hp["consistency_weight"] * terms.get("consistency", 0.0)
                     + hp["contrastive_weight"] * terms.get("contrast", 0.0))
            return total, terms

        logs = self.update("cnn", cnn_loss)

        def generator_loss():
            features = self.trunk(self._generate(y_pos), training=True)
            adv = losses.generator_loss(self.adversary(features))
            cls = losses.classification(self.classifier(features), y_pos)
            return adv + hp["classification_weight"] * cls, {"g_adversarial": adv, "g_classification": cls}

        logs.update(self.update("generator", generator_loss))
        return self.track(logs)
