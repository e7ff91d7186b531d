"""FakeReg (Geng, Pan, Chen, Lai, arXiv 1803.09466): regularise a supervised hasher with GAN fakes.

Stage 1, :class:`FakeRegGAN`: an unconditional DCGAN trained on the training
images (no extra data), itself a ``keras.Model`` trained with ``fit``.

Stage 2, :class:`FakeReg`: a supervised deep hashing network trained on real
labelled images, plus a **maximum-entropy loss on fake images** from the
frozen stage-1 generator, pushing their bits towards probability 0.5. The
network cannot be confident on images of no class, which regularises it
against over-fitting the few labelled images.

    L = similarity_weight * mean((h h^T / K - S)^2)      S from labels: similar_target (1) or -1
      + classification_weight * CE(classifier(x), y)
      + quantization_weight * (|h| - 1)^2
      + consistency_weight * ||h(x) - h(T(x))||^2                  (our addition, off by default)
      + max_entropy_weight * (log 2 - mean_k H((h_fake,k + 1) / 2))

On a pretrained backbone (the zoo's default) stage 1 generates feature
vectors, and the maximum-entropy term acts on the hasher's codes of those
generated features; real inputs are an image's features or its augmented
view's, at random. With ``tail_block`` the hasher also fine-tunes the
backbone's last blocks: real images enter as their input maps, fakes after
them (stage 1 still learns from the pretrained pooled features).

    gan = FakeRegGAN(image_shape=...); gan.compile(); gan.fit(train_images, epochs=...)
    hasher = FakeReg(bits=48, generator=gan.generator); hasher.compile(); hasher.fit(images, labels)
"""

from __future__ import annotations

import keras
from keras import layers, ops

from .. import losses
from ..nets import generator as make_generator, mlp_head, trunk
from .base import AdversarialModel, GANHasher, register_method


@keras.saving.register_keras_serializable("ganhash_zoo")
class FakeRegGAN(AdversarialModel):
    """Stage 1: a plain DCGAN whose generator stage 2 consumes."""

    method_name = "fakereg-gan"
    PLAYERS = ("discriminator", "generator")

    def __init__(self, image_shape=(32, 32, 3), width=64, seed=None, noise_dim=64, **kwargs):
        super().__init__(image_shape, width, seed, dict(noise_dim=noise_dim), **kwargs)
        self.generator = make_generator(noise_dim, self.image_shape, width)
        d_trunk = trunk(self.image_shape, width, name="d_trunk")
        inputs = keras.Input(self.image_shape)
        self.discriminator = keras.Model(inputs, mlp_head(d_trunk.output_shape[-1], 1)(d_trunk(inputs)),
                                         name="discriminator")

    def players(self):
        return {"discriminator": [self.discriminator], "generator": [self.generator]}

    def call(self, noise, training=False):
        return self.generator(noise, training=training)

    def generated_sample(self, n=16):
        return ops.convert_to_numpy(self.generator(self.noise(n, self.hparams["noise_dim"]), training=False))

    def train_step(self, data):
        x, _, _ = self.unpack_batch(data)
        x = self.mix_views(*self.split_views(x))
        n = ops.shape(x)[0]
        fake = ops.stop_gradient(self.generator(self.noise(n, self.hparams["noise_dim"]), training=True))

        def discriminator_loss():
            return losses.discriminator_loss(self.discriminator(x, training=True),
                                             self.discriminator(fake, training=True)), {}

        logs = self.update("discriminator", discriminator_loss)

        def generator_loss():
            generated = self.generator(self.noise(n, self.hparams["noise_dim"]), training=True)
            return losses.generator_loss(self.discriminator(generated, training=True)), {}

        logs.update(self.update("generator", generator_loss))
        return self.track(logs)


@register_method
class FakeReg(GANHasher):
    """Stage 2: supervised hashing + maximum entropy on the stage-1 generator's fakes."""

    method_name = "fakereg"
    first_stage = FakeRegGAN
    PLAYERS = ("hasher",)
    TAIL_TUNING = True
    LOGS = ("similarity", "classification", "quantization", "max_entropy", "consistency")

    def __init__(self, bits=48, image_shape=(32, 32, 3), width=64, seed=None, num_classes=10, noise_dim=64,
                 similarity_weight=1.0, classification_weight=1.0, quantization_weight=0.1,
                 max_entropy_weight=0.5, consistency_weight=0.0, similar_target=1.0, generator=None, **kwargs):
        hparams = dict(num_classes=num_classes, noise_dim=noise_dim, similarity_weight=similarity_weight,
                       classification_weight=classification_weight, quantization_weight=quantization_weight,
                       max_entropy_weight=max_entropy_weight, consistency_weight=consistency_weight,
                       similar_target=similar_target)
        super().__init__(bits, image_shape, width, seed, hparams, **kwargs)
        hasher_trunk = trunk(self.image_shape, width, name="hasher_trunk")
        inputs = keras.Input(self.image_shape)
        features = hasher_trunk(inputs)
        codes = layers.Activation("tanh", dtype="float32")(layers.Dense(self.bits, name="hash_logits")(features))
        logits = mlp_head(hasher_trunk.output_shape[-1], num_classes, name="classifier")(features)
        # built by hand, not with nets.build_encoder: the classifier reads the same trunk pass as the codes
        self.feature_encoder = keras.Model(inputs, codes, name="encoder")  # what fakes (feature vectors) go through
        self._encoder = self.tailed(self.feature_encoder)
        self.hasher = self.tailed(keras.Model(inputs, [codes, logits], name="hasher"))
        # the frozen stage-1 generator; a fresh one is built when loading from config
        self.generator = generator or make_generator(noise_dim, self.image_shape, width)
        if self.generator.input_shape[-1] != noise_dim:
            raise ValueError(f"the stage-1 generator takes {self.generator.input_shape[-1]}-d noise, "
                             f"but noise_dim={noise_dim}")

    @classmethod
    def from_first_stage(cls, gan: FakeRegGAN) -> dict:
        return {"generator": gan.generator}

    def players(self):
        return {"hasher": [self.hasher]}

    def generated_sample(self, n=16):
        return ops.convert_to_numpy(self.generator(self.noise(n, self.hparams["noise_dim"]), training=False))

    def train_step(self, data):
        x, y, _ = self.unpack_batch(data)
        if y is None:
            raise ValueError("FakeReg stage 2 is supervised: fit(images, labels)")
        x_plain, x_views = self.split_views(x)
        x = self.mix_views(x_plain, x_views)
        hp = self.hparams
        fake = ops.stop_gradient(self.generator(self.noise(ops.shape(x)[0], hp["noise_dim"]), training=False))
        similarity = losses.label_similarity(y, num_classes=hp["num_classes"], similar=hp["similar_target"])

        def hasher_loss():
            h, class_logits = self.hasher(x, training=True)
            h_fake = self.feature_encoder(fake, training=True)
            terms = {
                "similarity": losses.pairwise_similarity(h, similarity),
                "classification": losses.classification(class_logits, y),
                "quantization": losses.quantization(h),
                "max_entropy": losses.maximum_entropy((h_fake + 1.0) / 2.0),
            }
            if x_views is not None and hp["consistency_weight"]:  # the codes of an image and of T(x) agree
                terms["consistency"] = losses.consistency(*ops.split(
                    self._encoder(ops.concatenate([x_plain, x_views], axis=0), training=True), 2))
            total = (hp["similarity_weight"] * terms["similarity"]
                     + hp["classification_weight"] * terms["classification"]
                     + hp["quantization_weight"] * terms["quantization"]
                     + hp["max_entropy_weight"] * terms["max_entropy"]
                     + hp["consistency_weight"] * terms.get("consistency", 0.0))
            return total, terms

        logs = self.update("hasher", hasher_loss)
        return self.track(logs)
