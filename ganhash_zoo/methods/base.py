"""What every GAN hasher shares: players with their own optimizers, fit plumbing, config.

A method subclasses :class:`GANHasher` (a GAN that is not a hasher, such as
FakeReg's first stage, subclasses :class:`AdversarialModel`), is decorated
with :func:`register_method`, builds its networks in ``__init__``,
names its players in ``players()`` (player -> networks it updates) and
writes ``train_step`` as a sequence of ``self.update(player, loss_fn)``.
Keras 3's pitfalls for GAN training are handled here once:

* Keras has no backend-neutral gradient call: ``gradients.py`` is the one
  small shim (GradientTape on TensorFlow, autograd on torch);
* optimizer variables are built in ``compile`` (TensorFlow traces
  ``train_step`` in a tf.function that cannot create them);
* ``compile(auto_scale_loss=True)`` scales only ``self.optimizer``: under
  ``mixed_float16`` every player's optimizer is wrapped in a
  LossScaleOptimizer and its loss scaled here (``mixed_bfloat16`` needs none);
* ``trainable`` flags are frozen at ``compile``: players choose their
  variables explicitly instead of toggling them;
* ``load_model`` does not restore a custom ``compile`` signature: the encoder
  ships as its own model and training state is saved as weights (export.py).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from .. import baselines, nets, papers
from .data import fit_inputs
from .gradients import apply_gradients, check_training_backend, value_and_gradients


METHODS: dict[str, type] = {}  # method name -> class, filled by @register_method
LEARNING_KINDS = ("unsupervised", "supervised", "semi-supervised")


def register_method(cls):
    """Make ``cls`` a published method: training, the CLI, the benchmark and the tests find it in ``METHODS``.

    Its kind of learning (what ``fit`` takes) is read from ``papers.METHODS``,
    the plain-data record that model cards read without importing Keras; the
    class is registered for Keras deserialisation under ``ganhash_zoo>``.
    """
    paper = papers.METHODS.get(cls.method_name)
    if paper is None:
        raise ValueError(f"{cls.__name__}.method_name {cls.method_name!r} has no entry in papers.METHODS")
    if paper["fit_data"] not in LEARNING_KINDS:
        raise ValueError(f"papers.METHODS[{cls.method_name!r}]['fit_data'] must be one of {LEARNING_KINDS}")
    cls.learning = paper["fit_data"]
    METHODS[cls.method_name] = cls
    return keras.saving.register_keras_serializable("ganhash_zoo")(cls)


def _shape_matches(shape: tuple, expected: tuple) -> bool:
    """``shape`` is ``expected``, where None in ``expected`` stands for any size."""
    return len(shape) == len(expected) and all(e is None or s == e for s, e in zip(shape, expected))


class AdversarialModel(keras.Model):
    """Players, each with its own optimizer, updated in turn by a custom ``train_step``."""

    method_name = "adversarial"
    learning = "unsupervised"  # what fit() learns from; a registered method's comes from papers.METHODS
    PLAYERS: tuple = ()  # player names, in update order
    LOGS: tuple = ()  # loss terms each train_step reports besides "<player>_loss"

    def __init__(self, image_shape=(32, 32, 3), width: int = 64, seed: int | None = None,
                 hparams: dict | None = None, **kwargs):
        super().__init__(**kwargs)
        if len(image_shape) not in (1, 3):
            raise ValueError(f"image_shape must be (height, width, channels) for pixels or (features,) for a "
                             f"backbone's features, got {image_shape}")
        self.image_shape, self.width, self.seed = tuple(image_shape), int(width), seed
        self.hparams = dict(hparams or {})
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.step_counter = keras.Variable(0, dtype="int64", trainable=False, name="step_counter")
        self.player_optimizers = {}
        # metric state must exist before the model is built (torch refuses it later)
        names = [f"{p}_loss" for p in self.PLAYERS] + list(self.LOGS)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}

    def build(self, input_shape=None):
        self.built = True  # every network is built eagerly in __init__

    def load_weights(self, filepath, *args, **kwargs):
        self.build()  # nothing to infer from data: a fresh model can take weights at once
        return super().load_weights(filepath, *args, **kwargs)

    def save_weights(self, filepath, *args, **kwargs):
        self.build()
        return super().save_weights(filepath, *args, **kwargs)

    # Keras does not save random-seed states with weights; a checkpoint that resumes training must, or
    # the resumed run draws other noise, bits and augmentations than an uninterrupted one would.
    SEED_KEY = "seed_state_"

    def _seed_states(self) -> list:
        return [g.state for layer in self._flatten_layers(include_self=True) for g in layer._seed_generators]

    def save_own_variables(self, store):
        super().save_own_variables(store)
        for i, state in enumerate(self._seed_states()):
            store[f"{self.SEED_KEY}{i}"] = ops.convert_to_numpy(state)

    def load_own_variables(self, store):
        seeds = {k: store[k] for k in store.keys() if k.startswith(self.SEED_KEY)}
        super().load_own_variables({k: store[k] for k in store.keys() if not k.startswith(self.SEED_KEY)})
        states = self._seed_states()
        if len(seeds) == len(states):  # weights saved before seed states were kept have none
            for i, state in enumerate(states):
                state.assign(seeds[f"{self.SEED_KEY}{i}"])

    # -- subclass interface -------------------------------------------------
    def players(self) -> dict:
        """Player name -> list of networks whose trainable variables it updates."""
        raise NotImplementedError

    # -- training plumbing --------------------------------------------------
    def player_variables(self, player: str) -> list:
        return [v for net in self.players()[player] for v in net.trainable_variables]

    def compile(self, learning_rate: float = 2e-4, beta_1: float = 0.5, optimizers: dict | None = None, **kwargs):
        """One Adam (or the given optimizer) per player; extra kwargs go to ``keras.Model.compile``."""
        check_training_backend(self.method_name)
        kwargs.setdefault("jit_compile", False)
        kwargs.setdefault("optimizer", None)  # players own their optimizers; no unused default
        super().compile(**kwargs)
        self.built = True  # every network was built in __init__; skip Keras' symbolic build
        optimizers = dict(optimizers or {})
        unknown = set(optimizers) - set(self.players())
        if unknown:
            raise ValueError(f"unknown players {sorted(unknown)}; {self.method_name} has {sorted(self.players())}")
        loss_scaling = keras.mixed_precision.dtype_policy().name == "mixed_float16"
        self.player_optimizers = {}
        for player in self.players():
            opt = optimizers.get(player) or keras.optimizers.Adam(learning_rate, beta_1=beta_1, name=f"{player}_adam")
            if loss_scaling and not isinstance(opt, keras.optimizers.LossScaleOptimizer):
                opt = keras.optimizers.LossScaleOptimizer(opt, name=f"{player}_loss_scale")
            opt.build(self.player_variables(player))
            self.player_optimizers[player] = opt

    def update(self, player: str, loss_fn) -> dict:
        """One gradient step of ``player`` on ``loss_fn() -> (loss, logs)``; returns logs."""
        if not self.player_optimizers:
            raise RuntimeError(f"call compile() on the {self.method_name} model before fit()")
        variables = self.player_variables(player)
        optimizer = self.player_optimizers[player]
        loss, logs, grads = value_and_gradients(loss_fn, variables, optimizer)
        apply_gradients(optimizer, grads, variables)
        return {f"{player}_loss": loss, **logs}

    def track(self, logs: dict) -> dict:
        """Average each log value over the epoch (Keras shows the running mean)."""
        for key, value in logs.items():
            self.trackers[key].update_state(ops.cast(value, "float32"))
        self.step_counter.assign_add(1)
        return {key: tracker.result() for key, tracker in self.trackers.items()}

    @property
    def metrics(self):
        return list(self.trackers.values())

    def ramp(self, steps: int):
        """0 -> 1 linearly over the first ``steps`` training steps (1 when steps is 0)."""
        if not steps:
            return ops.convert_to_tensor(1.0, "float32")
        return ops.minimum(ops.cast(self.step_counter, "float32") / float(steps), 1.0)

    # -- data ---------------------------------------------------------------
    def prepare(self, images, seed: int = 0, views=None):
        """Set-up that needs the training images (and their augmented views) before ``fit``: none by default;
        a hasher's instance bits, USPAH's features."""
        return self

    def fit_inputs(self, unlabeled, labeled, labels, batch_size: int, seed: int = 0, start_epoch: int = 0):
        """``(args, kwargs)`` for ``fit`` from the images this method learns from (see :func:`fit_inputs`)."""
        return fit_inputs(self.learning, unlabeled, labeled, labels, batch_size, seed, start_epoch)

    def unpack_batch(self, data):
        """(labelled images, labels or None, unlabelled images or None) as float32 pixels.

        Accepts ``images``, ``(images,)``, ``(images, labels)`` and
        ``({"labeled": images, "unlabeled": images}, labels)`` as produced by
        :class:`~ganhash_zoo.methods.data.SemiSupervisedBatches`.
        """
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        unlabeled = None
        if isinstance(x, dict):
            x, unlabeled = x["labeled"], x.get("unlabeled")
        x = self._checked_inputs(ops.cast(x, "float32"))
        if unlabeled is not None:
            unlabeled = self._checked_inputs(ops.cast(unlabeled, "float32"))
        return x, y, unlabeled

    def _checked_inputs(self, x):
        """Grey images without a channel axis get one, as ``encode`` accepts them."""
        if not self.on_features and self.image_shape[-1] == 1 and tuple(x.shape[1:]) == self.image_shape[:2]:
            return ops.expand_dims(x, -1)
        return x

    def fit(self, x=None, *args, **kwargs):
        """``keras.Model.fit``, refusing inputs of another shape than the method's in one line (rather than a
        backend error deep inside a network)."""
        self._check_fit_inputs(x[0] if isinstance(x, keras.utils.PyDataset) and len(x) else x)
        return super().fit(x, *args, **kwargs)

    def _check_fit_inputs(self, batch):
        if isinstance(batch, tuple):
            batch = batch[0]
        if isinstance(batch, dict):
            batch = batch.get("labeled")
        shape = getattr(batch, "shape", None)
        if shape is None:
            return  # a tf.data.Dataset or generator: its batches are checked by the networks
        accepted = [self.sample_shape]
        if self.on_features:
            accepted.append((2, *self.sample_shape))  # pairs of features (or maps) and their views
        elif self.image_shape[-1] == 1:
            accepted.append(self.image_shape[:2])  # grey images without a channel axis, as encode takes them
        if not any(_shape_matches(tuple(shape[1:]), expected) for expected in accepted):
            raise ValueError(f"{self.method_name} fits on inputs shaped (N, {', '.join(map(str, self.sample_shape))})"
                             + (" or (N, 2, ...) pairs of inputs and views" if self.on_features else "")
                             + f", got {tuple(shape)}")

    @property
    def sample_shape(self) -> tuple:
        """The shape of one input to ``fit`` and the encoder (None: any size)."""
        return self.image_shape

    @property
    def on_features(self) -> bool:
        """True when the method learns from a frozen backbone's features rather than pixels."""
        return nets.on_features(self.image_shape)

    def split_views(self, x):
        """(inputs, their augmented views or None).

        On a backbone, ``fit`` takes (B, 2, F): each image's features and its augmented view's
        (``FeatureData.training_inputs``), or (B, 2, H, W, C) maps for a fine-tuned tail; plain
        features or maps, and pixels, come without views.
        """
        if self.on_features and len(x.shape) == len(self.sample_shape) + 2:
            return x[:, 0], x[:, 1]
        return x, None

    def mix_views(self, x, views):
        """Each sample as itself or, with probability 1/2, as its augmented view: data augmentation for
        methods whose losses have no term of their own for the view."""
        if views is None:
            return x
        pick = keras.random.uniform((ops.shape(x)[0], 1), seed=self.seed_generator) < 0.5
        pick = ops.reshape(pick, (-1,) + (1,) * (len(x.shape) - 1))  # maps have more axes than features
        return ops.where(pick, views, x)

    def noise(self, batch_size, dim):
        return keras.random.normal((batch_size, dim), seed=self.seed_generator)

    # -- config ---------------------------------------------------------------
    def get_config(self):
        config = super().get_config()
        config.update(self.shape_config())
        config.update(self.hparams)
        return config

    def shape_config(self) -> dict:
        """The constructor arguments that fix the networks' shapes (with ``seed``)."""
        return dict(image_shape=list(self.image_shape), width=self.width, seed=self.seed)

    def generated_sample(self, n: int = 16) -> np.ndarray:
        """``n`` images from the method's generator, for checks and figures."""
        raise NotImplementedError


class GANHasher(AdversarialModel):
    """A hashing method: ``self.encoder`` maps images in [0, 255] to ``bits`` codes in [-1, 1].

    With ``tail_block=N`` (methods whose ``TAIL_TUNING`` is True) the method
    fine-tunes EfficientNet-Lite0 from MBConv block N on: its inputs are the
    maps the frozen front of the network gives block N, its hashing player
    trains the tail (:func:`~ganhash_zoo.nets.tail_from_block`) with its own
    losses, and its other networks -- generators, discriminators, A-Net --
    keep working on pooled features: generated and hard samples enter after
    the tail. ``image_shape`` is then the tail's output, (1280,).

    With ``instance_bits=K`` (on a backbone) the method learns ``bits - K``
    bits (``self.bits``) and :attr:`encoder` appends K fixed bits of the
    frozen backbone's features (its pooled maps, with a tail), fitted by
    ``prepare`` on the training images and their augmented views
    (:class:`~ganhash_zoo.baselines.InvariantITQ`): bits that no class loss
    gathers, so a near-duplicate need not tie with its class.

    With ``feature_bits=T`` (on a backbone) the learned code is shorter by T
    more, and ITQ bits of the trained network's pooled features (the tail's
    output, or the frozen features) come between the learned code and the
    instance bits, fitted by :meth:`fit_feature_bits` after training: they
    keep the fine-tuned features' graded class similarity, which the few
    learned bits left beside the instance bits would lose.
    """

    method_name = "hasher"
    # a model fitted on the training images before this one (FakeReg's GAN), or None; its fitted
    # instance becomes constructor arguments through from_first_stage()
    first_stage: type | None = None
    TAIL_TUNING = False  # whether the method's losses can fine-tune a backbone tail (tail_block)

    _code_encoder = None  # the learned code with its fixed bits (feature, instance) appended, built on first use

    def __init__(self, bits: int, image_shape=(32, 32, 3), width: int = 64, seed: int | None = None,
                 hparams: dict | None = None, tail_block: int | None = None, instance_bits: int = 0,
                 feature_bits: int = 0, **kwargs):
        if int(bits) < 1:
            raise ValueError(f"bits must be a positive integer, got {bits}")
        if min(int(instance_bits), int(feature_bits)) < 0 or int(instance_bits) + int(feature_bits) >= int(bits):
            raise ValueError(f"instance_bits + feature_bits must lie in [0, {int(bits) - 1}] for a {bits}-bit "
                             f"code (the method learns the rest), got {instance_bits} + {feature_bits}")
        super().__init__(image_shape, width, seed, hparams, **kwargs)
        self.instance_bits, self.feature_bits = int(instance_bits), int(feature_bits)
        self.bits = int(bits) - self.instance_bits - self.feature_bits  # the bits the method's own losses learn
        self.tail_block = None if tail_block is None else int(tail_block)
        self.tail = None
        if self.tail_block is not None:
            if not self.TAIL_TUNING:
                raise ValueError(f"{self.method_name} cannot fine-tune a backbone tail (tail_block); "
                                 f"{sorted(m for m, c in METHODS.items() if c.TAIL_TUNING)} can")
            self.tail = nets.tail_from_block(self.tail_block)
            if tuple(self.tail.output_shape[1:]) != self.image_shape:
                raise ValueError(f"with tail_block, image_shape must be the tail's output "
                                 f"{tuple(self.tail.output_shape[1:])}, got {self.image_shape}")
        # instance bits read the method's inputs (maps, with a tail), feature bits the pooled features after it
        self.instance_layer = self._fixed_bits_layer("instance_bits", self.instance_bits, self.sample_shape[-1])
        self.feature_layer = self._fixed_bits_layer("feature_bits", self.feature_bits, self.image_shape[-1])

    def _fixed_bits_layer(self, option: str, bits: int, feature_dim: int):
        """The layer computing ``bits`` fixed bits of a backbone's features (None for none); pixels have none."""
        if not bits:
            return None
        if not self.on_features:
            raise ValueError(f"{option} read a pretrained backbone's features; pixels have none "
                             "(train on --backbone efficientnet-lite0)")
        return nets.InstanceBits(feature_dim, bits, name=option)

    @classmethod
    def needs_labels(cls) -> bool:
        return cls.learning != "unsupervised"

    @classmethod
    def from_first_stage(cls, first_stage_model) -> dict:
        """Constructor arguments taken from the fitted ``first_stage`` model."""
        return {}

    @property
    def encoder(self) -> keras.Model:
        """The retrieval model: the learned code, then the feature bits and the instance bits if there are any."""
        if self.instance_layer is None and self.feature_layer is None:
            return self._encoder
        if self._code_encoder is None:
            inputs = keras.Input(self.sample_shape, name="images")
            # tailed() builds [inputs, tail, network]: the tail runs once for the code and the feature bits
            features = self.pooled(inputs)
            codes = [self._encoder(inputs) if self.tail is None else self._encoder.layers[-1](features)]
            codes += [] if self.feature_layer is None else [self.feature_layer(features)]
            codes += [] if self.instance_layer is None else [self.instance_layer(inputs)]
            # not tracked as an attribute: its variables are already the model's own, saved once
            object.__setattr__(self, "_code_encoder", keras.Model(
                inputs, keras.layers.Concatenate(dtype="float32", name="codes")(codes), name="encoder_with_fixed_bits"))
        return self._code_encoder

    def prepare(self, images, seed: int = 0, views=None):
        """Fit the instance bits, if any, on the training images and their augmented views."""
        if self.instance_layer is not None:
            if views is None:
                raise ValueError("instance bits are fitted on the training images and their augmented views: "
                                 "prepare(images, views=...)")
            fitted = baselines.InvariantITQ(self.instance_bits, seed=seed, features=self.instance_layer.features_of)
            fitted.fit(images, views)
            self.instance_layer.set_projection(fitted.mean_, fitted.projection_)
        return self

    def fit_feature_bits(self, images, seed: int = 0, batch_size: int = 256):
        """Fit the feature bits, if any, by ITQ on the network's pooled features of the training images:
        after training, and again after any fine-tuning (they quantise the features as they are now)."""
        if self.feature_layer is not None:
            features = np.concatenate([ops.convert_to_numpy(self.pooled(images[start:start + batch_size]))
                                       for start in range(0, len(images), batch_size)]).astype(np.float32)
            fitted = baselines.ITQ(self.feature_bits, seed=seed, features=np.asarray).fit(features)
            self.feature_layer.set_projection(fitted.mean_, fitted.projection_)
        return self

    @property
    def sample_shape(self) -> tuple:
        return self.image_shape if self.tail is None else tuple(self.tail.input_shape[1:])

    def pooled(self, x):
        """Pooled features of real inputs: the fine-tuned tail's, or ``x`` itself."""
        return x if self.tail is None else self.tail(x)

    def tailed(self, network: keras.Model) -> keras.Model:
        """``network`` (on pooled features) as a model of the method's inputs: the tail first, when there is one."""
        if self.tail is None:
            return network
        inputs = keras.Input(self.sample_shape, name="maps")
        return keras.Model(inputs, network(self.tail(inputs)), name=network.name)

    def tuned_networks(self) -> list:
        """What the hashing player trains besides its own networks: the tail, when there is one."""
        return [] if self.tail is None else [self.tail]

    def call(self, images, training=False):
        return self.encoder(images, training=training)

    def random_bits(self, batch_size):
        """Uniform random codes in {-1, +1}."""
        u = keras.random.uniform((batch_size, self.bits), seed=self.seed_generator)
        return ops.where(u > 0.5, 1.0, -1.0)

    def shape_config(self) -> dict:
        # released configs keep their keys: options at their defaults are left out
        tail = {} if self.tail_block is None else {"tail_block": self.tail_block}
        fixed = {name: value for name, value in (("feature_bits", self.feature_bits),
                                                 ("instance_bits", self.instance_bits)) if value}
        return dict(bits=self.bits + self.feature_bits + self.instance_bits, **super().shape_config(), **tail,
                    **fixed)
