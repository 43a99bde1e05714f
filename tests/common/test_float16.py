"""float16 for every model: the mixed_float16 policy with dynamic loss scaling, what --mixed-precision selects on a
GPU, run on the CPU (TensorFlow computes float16 there too) at tiny size. Each model is built by its task's build
function under the policy (so with the LossScaleOptimizers it makes when needs_loss_scaling() is true), trained a
few steps with fit, then one step with a loss scale no float16 gradient survives. Checked: finite losses, float32
weights, float16 compute where the model asks for it, and each loss scale optimizer's bookkeeping step by step
(an applied step advances its iterations, a skipped one halves its scale and leaves the weights untouched), while
the model's global step advances once every step, skipped or not."""

import contextlib
import math
from collections import Counter

import keras
import numpy as np
import pytest
import tensorflow as tf

from common.runtime import distribute
from common.runtime.distribute import needs_loss_scaling

INITIAL_SCALE = 2.0 ** 15  # Keras's LossScaleOptimizer default, what the build functions get
OVERFLOW_SCALE = 2.0 ** 60  # beyond float16's 65504 as soon as the backward pass reaches a float16 layer

# steps before the overflow step. The tiny ResNet CycleGAN's generators (4 filters, junyanz's zero-padded
# convolutions) start with weight gradients of ~10 at scale 1: at 2**15 the float16 backward pass overflows, and
# they skip their first steps while the scale comes down (4 steps were not enough). The multiscale CycleGAN's
# generators start with gradients of ~1.5e3 at scale 1 (enc1's kernels): they skip their first ~11 steps while the scale comes down from 2**15 to 32. StyleGAN2 runs
# with path length every step and R1 every 2nd (intervals lowered from 4 and 16): its path-length loss (with
# float16 pre-normalisation the kernels' gradients are ~30x the weights') overflows at G's first scales and
# skips until the scale has come down to a few thousand - at the default interval 4 that took 5 path-length
# steps (20 steps, G's scale 2**15 -> 2**10), here a few.
STEPS = {"night2day-resnet": 8, "night2day-multiscale": 14, "inpainting-improved": 4,
         "inpainting-context-encoder": 4, "watches-dcgan": 4, "watches-stylegan2": 8}
SG2_INTERVALS = ("--g-reg-interval", "1", "--d-reg-interval", "2")


@contextlib.contextmanager
def float16_policy(monkeypatch):
    """mixed_float16 as the global policy (and as StyleGAN2's mixed blocks' policy, a GPU's choice), restored after."""
    previous = keras.mixed_precision.global_policy()
    monkeypatch.setattr(distribute, "mixed_precision_policy", lambda: "mixed_float16")
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


@pytest.fixture
def float16(monkeypatch):
    with float16_policy(monkeypatch):
        yield


def night2day(model):
    from night2day.build import build_cyclegan
    from night2day.train import parse_config

    args = ["--model", model, "--image-size", "32", "--filters", "4", "--wandb", "disabled", "--mixed-precision", "true"]
    config = parse_config(args + (["--res-blocks", "1"] if model == "resnet" else []))
    gan = build_cyclegan(config)
    rng = np.random.default_rng(0)
    x, y = (rng.uniform(-1, 1, (2, 32, 32, 3)).astype("float32") for _ in range(2))
    if model == "multiscale":  # its images are in [0, 1]
        x, y = (x + 1) / 2, (y + 1) / 2
    return gan, (x, y)


def inpainting(model):
    from inpainting.build import build_gan
    from inpainting.masks import make_masks
    from inpainting.train import parse_config

    config = parse_config(["--model", model, "--filters", "4", "--bottleneck", "16", "--image-size", "32",
                           "--wandb", "disabled", "--mixed-precision", "true"])
    gan = build_gan(config)
    images = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    masks = make_masks(config["mask"], seed=0, step=0, batch_size=2, image_size=32)
    return gan, (images, np.asarray(masks, "float32"))


def watches(model):
    from watches.build import build_gan
    from watches.train import parse_config

    if model == "dcgan":
        args = ["--image-size", "32", "--filters", "4", "--latent-dim", "8"]
    else:
        args = ["--model", "stylegan2", "--image-size", "16", "--batch-size", "4", "--latent-dim", "16", "--w-dim", "16",
                "--channel-base", "128", "--channel-max", "16", *SG2_INTERVALS]
    config = parse_config(args + ["--wandb", "disabled", "--mixed-precision", "true"])
    gan = build_gan(config)
    size = config["image_size"]
    return gan, np.random.default_rng(0).uniform(-1, 1, (4, size, size, 3)).astype("float32")


BUILD = {"night2day-resnet": lambda: night2day("resnet"), "night2day-multiscale": lambda: night2day("multiscale"),
         "inpainting-improved": lambda: inpainting("improved"),
         "inpainting-context-encoder": lambda: inpainting("context-encoder"),
         "watches-dcgan": lambda: watches("dcgan"), "watches-stylegan2": lambda: watches("stylegan2")}


def applies_per_step(gan, step):
    """{optimizer: how many times the step applies it}: once each, StyleGAN2 twice on its regularisation steps."""
    if hasattr(gan, "phases_due"):
        return dict(Counter(phase.optimizer for phase in gan.phases_due(step)))
    return {name: 1 for name in gan.optimizers}


class Bookkeeping(keras.callbacks.Callback):
    """Each step's losses and each optimizer's (iterations, loss scale) after it. Before step `overflow_at` every
    loss scale is set to OVERFLOW_SCALE (and the state and the trained weights noted): one fit, one trace."""

    def __init__(self, gan, overflow_at):
        super().__init__()
        self.gan, self.overflow_at, self.losses = gan, overflow_at, []
        self.states = [self.state()]
        self.global_steps = [int(gan.global_step.numpy())]
        self.overflow_state = self.overflow_weights = None

    def state(self):
        return {name: (int(opt.iterations.numpy()), float(opt.dynamic_scale.numpy()))
                for name, opt in self.gan.optimizers.items()}

    def on_train_batch_begin(self, batch, logs=None):
        if batch == self.overflow_at:
            for opt in self.gan.optimizers.values():
                opt.dynamic_scale.assign(OVERFLOW_SCALE)
            self.overflow_state = self.state()
            self.overflow_weights = {name: [v.numpy().copy() for v in self.gan.trainable_variables_of(name)]
                                     for name in self.gan.optimizers}

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append({k: float(v) for k, v in (logs or {}).items()})
        self.states.append(self.state())
        self.global_steps.append(int(self.gan.global_step.numpy()))


def fit(gan, batch, steps, bookkeeping):
    data = tf.data.Dataset.from_tensors(batch).repeat()
    gan.fit(data, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False, callbacks=[bookkeeping])


def layers_of(net):
    return [layer for layer in net._flatten_layers(include_self=False, recursive=True)]


def check_compute_dtypes(name, gan):
    if name != "watches-stylegan2":
        # every convolution and dense layer computes in float16, the outputs come back float32
        for net in gan.networks.values():
            computing = [layer for layer in layers_of(net) if isinstance(
                layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose, keras.layers.Dense))]
            assert computing, net.name
            assert {layer.compute_dtype for layer in computing} == {"float16"}, net.name
            assert {str(t.dtype) for t in net.outputs} == {"float32"}, net.name
        return
    from watches import stylegan2 as S

    # NVIDIA's num_fp16_res = 4 at 16 px: the 8 and 16 blocks in float16 (never the 4x4 one), mapping float32
    synthesis, disc = gan.networks["synthesis"], gan.networks["discriminator"]
    convs = [layer for layer in synthesis.layers if isinstance(layer, S.ModulatedConv2D)]
    for layer in convs:
        assert layer.compute_dtype == ("float32" if layer.name.startswith("b4_") else "float16"), layer.name
        assert layer.clamp == 256  # conv_clamp on every layer, as NVIDIA's --cfg auto
        assert layer.prenormalizes() == (layer.demodulate and layer.compute_dtype == "float16"), layer.name
    assert any(layer.prenormalizes() for layer in convs)
    for layer in disc.layers:
        if isinstance(layer, S.EqualConv2D):
            assert layer.compute_dtype == ("float32" if layer.name.startswith("b4_") else "float16"), layer.name
            assert layer.clamp == (None if layer.name.endswith("_skip") else 256), layer.name
    assert {layer.compute_dtype for layer in gan.networks["mapping"].layers} == {"float32"}
    assert synthesis.output.dtype == "float32" and disc.output.dtype == "float32"


@pytest.mark.parametrize("name", list(BUILD))
def test_float16_training_with_loss_scaling(name, float16):
    keras.utils.set_random_seed(0)
    gan, batch = BUILD[name]()
    assert needs_loss_scaling()
    assert all(isinstance(opt, keras.optimizers.LossScaleOptimizer) for opt in gan.optimizers.values())
    check_compute_dtypes(name, gan)

    steps = STEPS[name]
    gan.build_optimizers()  # the loss scales exist (at 2**15) before the first step
    books = Bookkeeping(gan, overflow_at=steps)
    fit(gan, batch, steps + 1, books)
    assert len(books.losses) == steps + 1
    for step, losses in enumerate(books.losses):  # the overflow step's too: its forward pass is unaffected
        assert losses and all(math.isfinite(v) for v in losses.values()), (step, losses)
    weights = [v for net in gan.networks.values() for v in net.weights]
    assert {str(v.dtype) for v in weights if v.trainable} == {"float32"}
    for opt in gan.optimizers.values():
        assert {str(v.dtype) for v in opt.inner_optimizer.variables if "iteration" not in v.path} == {"float32"}

    # step by step: every application of an optimizer either advanced its iterations or halved its scale
    applied_twice = {name: 0 for name in gan.optimizers}
    for step in range(steps):
        before, after = books.states[step], books.states[step + 1]
        for opt, count in applies_per_step(gan, step).items():
            advanced = after[opt][0] - before[opt][0]
            skipped = math.log2(before[opt][1] / after[opt][1])
            assert skipped == int(skipped) and advanced >= 0 and advanced + skipped == count, (step, opt, before, after)
            applied_twice[opt] += count == 2 and advanced == 2
    for opt, (iterations, scale) in books.states[steps].items():
        assert iterations >= 1, f"{opt}: no step applied in {steps}: gradients never finite"
        assert scale <= INITIAL_SCALE
    assert all(scale == INITIAL_SCALE for _, scale in books.states[0].values())
    if name == "watches-stylegan2":  # a path-length step (G) and an R1 step (D) applied in full, both finite
        assert applied_twice["g"] >= 1 and applied_twice["d"] >= 1, books.states
        assert all(losses["pl"] > 0 for losses in books.losses)
        assert [step for step, losses in enumerate(books.losses) if "r1" in losses] == list(range(0, steps + 1, 2))
        assert all(losses["r1"] > 0 for losses in books.losses if "r1" in losses)

    # the model's step counts every step, the skipped ones too: the draws and intervals of the next step move on
    assert books.global_steps == list(range(steps + 2))

    # an overflow: every optimizer skips (its weights bit for bit unchanged), counts it and halves its scale
    assert books.overflow_state == {opt: (iterations, OVERFLOW_SCALE) for opt, (iterations, _) in
                                    books.states[steps].items()}
    for opt, count in applies_per_step(gan, steps).items():
        assert books.states[steps + 1][opt] == (books.states[steps][opt][0], OVERFLOW_SCALE / 2 ** count), opt
        for old, new in zip(books.overflow_weights[opt], gan.trainable_variables_of(opt)):
            np.testing.assert_array_equal(new.numpy(), old, err_msg=f"{opt}: {new.path} moved in a skipped step")



def test_the_float16_policy_is_restored_afterwards(monkeypatch):
    previous = keras.mixed_precision.global_policy().name
    with float16_policy(monkeypatch):
        assert keras.mixed_precision.global_policy().name == "mixed_float16" and needs_loss_scaling()
        assert distribute.mixed_precision_policy() == "mixed_float16"
    assert keras.mixed_precision.global_policy().name == previous and not needs_loss_scaling()
