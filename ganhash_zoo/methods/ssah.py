"""SSAH (Jin et al., AAAI 2020): semi-supervised hashing with self-paced hard sample generation.

H-Net is the hashing network. A-Net turns each real image into a *hard
sample* through multi-scale occlusion (a 2x2 and a 4x4 grid of occlusion
weights) and rotation, and is trained to *raise* H-Net's hashing loss while
H-Net learns to resist it. Self-paced: the allowed difficulty -- occlusion
budget (mean mask area) and rotation range -- grows linearly from
``min_difficulty`` to 1 over ``difficulty_steps`` steps.

    L_H = similarity_weight * mean((H H^T / K - S)^2)    labelled real + hard samples, S from labels
                                                           (similar_target, 1 by default, or -1)
        + consistency_weight * ||h(x_u) - h(A(x_u))||^2   unlabelled images and their hard samples
        + quantization_weight * (|h| - 1)^2
        + decorrelation_weight * mean squared correlation between bits     (our addition, off by default)
    L_A = -(similarity on labelled hard samples + consistency on unlabelled hard samples)

On a pretrained backbone (the zoo's default) the hard samples are made in
feature space: A-Net's occlusion masks cover 16 and 64 groups of the
pooled feature channels (removing the evidence an occluded image region
would have given), and its deformation moves each feature vector up to half
way towards the features of the image's augmented view (a flip and shift,
the cached counterpart of a geometric warp); the self-paced budget is the
same. With ``tail_block`` H-Net also fine-tunes the backbone's last blocks:
real images enter as their input maps, A-Net works on the tail's pooled
features (taken without gradient), and hard samples enter H-Net after the
tail. With ``augment`` (ours, off by default) H-Net's labelled real images
are their augmented views half the time, the plain data augmentation
DSH-GAN and FakeReg always use: otherwise the fine-tuned blocks see each
labelled image only as it is, and learn its class less well.

Feed ``SemiSupervisedBatches(labeled, labels, unlabeled)`` (or ``fit(images,
labels)``, when the labelled images double as the unlabelled stream).
"""

from __future__ import annotations

import math

import keras
from keras import ops

from .. import losses
from ..nets import build_encoder, mlp_head, trunk
from ..nets.warps import occlude, rotate, upsample_nearest
from .base import GANHasher, register_method

GRIDS = (2, 4)  # occlusion scales on pixels: cells per side
CHANNEL_GROUPS = (16, 64)  # occlusion scales on a backbone's features: groups of channels


@register_method
class SSAH(GANHasher):
    method_name = "ssah"
    PLAYERS = ("hasher", "adversary")
    TAIL_TUNING = True
    LOGS = ("similarity", "consistency", "quantization", "decorrelation", "difficulty")

    def __init__(self, bits=48, image_shape=(32, 32, 3), width=64, seed=None, num_classes=10,
                 similarity_weight=1.0, consistency_weight=1.0, quantization_weight=0.1,
                 max_occlusion=0.4, max_rotation_degrees=30.0, min_difficulty=0.1, difficulty_steps=2000,
                 similar_target=1.0, decorrelation_weight=0.0, augment=False, **kwargs):
        hparams = dict(num_classes=num_classes, similarity_weight=similarity_weight,
                       consistency_weight=consistency_weight, quantization_weight=quantization_weight,
                       max_occlusion=max_occlusion, max_rotation_degrees=max_rotation_degrees,
                       min_difficulty=min_difficulty, difficulty_steps=difficulty_steps, similar_target=similar_target,
                       decorrelation_weight=decorrelation_weight, augment=augment)
        if not isinstance(augment, bool):
            raise ValueError(f"SSAH's augment is true or false, got {augment!r}")
        super().__init__(bits, image_shape, width, seed, hparams, **kwargs)
        if self.on_features:
            if any(self.image_shape[0] % g for g in CHANNEL_GROUPS):
                raise ValueError(f"SSAH's channel groups {CHANNEL_GROUPS} need a feature size divisible by 64, "
                                 f"got {image_shape}")
            scales = CHANNEL_GROUPS
        else:
            if any(self.image_shape[0] % g or self.image_shape[1] % g for g in GRIDS):
                raise ValueError(f"SSAH's occlusion grids {GRIDS} need image sides divisible by 4, got {image_shape}")
            scales = tuple(g * g for g in GRIDS)
        self.feature_encoder = build_encoder(trunk(self.image_shape, width, name="h_trunk"), self.bits)
        self._encoder = self.tailed(self.feature_encoder)
        a_trunk = trunk(self.image_shape, max(8, width // 2), name="a_trunk")
        inputs = keras.Input(self.image_shape)
        params = mlp_head(a_trunk.output_shape[-1], sum(scales) + 1, hidden=128)(a_trunk(inputs))
        self.a_net = keras.Model(inputs, params, name="a_net")

    def players(self):
        return {"hasher": [self.feature_encoder, *self.tuned_networks()], "adversary": [self.a_net]}

    def difficulty(self):
        lo = self.hparams["min_difficulty"]
        return lo + (1.0 - lo) * self.ramp(self.hparams["difficulty_steps"])

    def _budgeted(self, mask):
        """Scale occlusion masks down to the current difficulty's budget of mean occluded area."""
        budget = self.difficulty() * self.hparams["max_occlusion"]
        area = ops.mean(mask, axis=tuple(range(1, len(mask.shape))), keepdims=True)
        return mask * ops.minimum(1.0, budget / (area + 1e-6))

    def hard_samples(self, images, views=None, training=True):
        """A-Net's occluded and deformed versions of ``images``, within the current difficulty.

        On pixels: occlusion masks over a 2x2 and a 4x4 grid, and a rotation. On a backbone's
        features: occlusion masks over 16 and 64 groups of channels (the pooled evidence a hidden
        image region would have given), and a deformation that moves each feature vector towards
        its augmented view's (flip and shift) by up to half the way.
        """
        params = ops.cast(self.a_net(images, training=training), "float32")
        d = self.difficulty()
        if self.on_features:
            masks, offset, dim = [], 0, self.image_shape[0]
            for groups in CHANNEL_GROUPS:
                grid = ops.sigmoid(params[:, offset : offset + groups])
                masks.append(ops.repeat(grid, dim // groups, axis=1))
                offset += groups
            deformed = images if views is None else images + 0.5 * d * ops.sigmoid(params[:, -1:]) * (views - images)
            return deformed * (1.0 - self._budgeted((masks[0] + masks[1]) / 2.0))
        hp = self.hparams
        h, w = self.image_shape[:2]
        masks, offset = [], 0
        for g in GRIDS:
            grid = ops.reshape(ops.sigmoid(params[:, offset : offset + g * g]), (-1, g, g))
            masks.append(upsample_nearest(grid, h, w))
            offset += g * g
        mask = self._budgeted((masks[0] + masks[1]) / 2.0)
        angle = ops.tanh(params[:, -1]) * d * math.radians(hp["max_rotation_degrees"])
        return rotate(occlude(images, mask), angle)

    def generated_sample(self, n=16):
        raise NotImplementedError("SSAH generates hard samples from images: use hard_samples(images)")

    def train_step(self, data):
        x, y, x_unlabeled = self.unpack_batch(data)
        if y is None:
            raise ValueError("SSAH needs labels for part of the data: SemiSupervisedBatches or fit(images, labels)")
        hp = self.hparams
        x, x_views = self.split_views(x)
        x_u, u_views = (x, x_views) if x_unlabeled is None else self.split_views(x_unlabeled)
        similarity = losses.label_similarity(ops.concatenate([y, y], axis=0), num_classes=hp["num_classes"],
                                             similar=hp["similar_target"])

        # real features without gradient, for A-Net (the tail, if any, learns in the hasher's step only)
        def frozen(inputs):
            return None if inputs is None else ops.stop_gradient(self.pooled(inputs))

        f, f_views = frozen(x), frozen(x_views)
        f_u, fu_views = (f, f_views) if x_unlabeled is None else (frozen(x_u), frozen(u_views))

        def hashing_terms(real_l, real_u, hard_l, hard_u):
            h_l = self.feature_encoder(ops.concatenate([real_l, hard_l], axis=0), training=True)
            h_u = self.feature_encoder(real_u, training=True)
            return {
                "similarity": losses.pairwise_similarity(h_l, similarity),
                "consistency": losses.consistency(h_u, self.feature_encoder(hard_u, training=True)),
                "quantization": losses.quantization(ops.concatenate([h_l, h_u], axis=0)),
                "decorrelation": losses.bit_decorrelation(ops.concatenate([h_l, h_u], axis=0)),
            }

        def adversary_loss():
            terms = hashing_terms(f, f_u, self.hard_samples(f, f_views), self.hard_samples(f_u, fu_views))
            return -(terms["similarity"] + terms["consistency"]), {}

        logs = self.update("adversary", adversary_loss)
        hard_l = ops.stop_gradient(self.hard_samples(f, f_views))
        hard_u = ops.stop_gradient(self.hard_samples(f_u, fu_views))

        def hasher_loss():
            real_l = self.pooled(self.mix_views(x, x_views) if hp["augment"] else x)
            real_u = real_l if x_unlabeled is None else self.pooled(x_u)
            terms = hashing_terms(real_l, real_u, hard_l, hard_u)
            total = (hp["similarity_weight"] * terms["similarity"] + hp["consistency_weight"] * terms["consistency"]
                     + hp["quantization_weight"] * terms["quantization"]
                     + hp["decorrelation_weight"] * terms["decorrelation"])
            return total, terms

        logs.update(self.update("hasher", hasher_loss))
        logs["difficulty"] = self.difficulty()
        return self.track(logs)
