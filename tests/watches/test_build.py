"""watches.build: every StyleGAN2 training knob is an option that reaches the compiled model."""

from __future__ import annotations

import pytest

from watches.build import StyleGAN2Options, build_gan
from watches.train import parse_config

TINY = ["--model", "stylegan2", "--image-size", "16", "--batch-size", "4", "--latent-dim", "8", "--w-dim", "8",
        "--channel-base", "64", "--channel-max", "8", "--wandb", "disabled"]
KNOBS = {"pl_decay": 0.02, "w_avg_beta": 0.9, "ada_kimg": 100.0, "ada_interval": 2, "pl_batch_shrink": 1,
         "g_reg_interval": 3, "d_reg_interval": 5, "r1_gamma": 0.5, "pl_weight": 1.5, "style_mixing": 0.25,
         "augment_target": 0.7}


def test_every_stylegan2_knob_given_as_a_flag_reaches_the_compiled_model():
    flags = [a for key, value in KNOBS.items() for a in (f"--{key.replace('_', '-')}", str(value))]
    model = build_gan(parse_config([*TINY, *flags, "--lr-g", "0.004", "--lr-d", "0.006"]))
    for key, value in KNOBS.items():
        assert getattr(model, key) == pytest.approx(value), key
    # NVIDIA's lazy-regularisation correction with the intervals given: r = N / (N + 1)
    for name, lr, interval in (("g", 0.004, 3), ("d", 0.006, 5)):
        opt, r = model.optimizers[name], interval / (interval + 1)
        assert float(opt.learning_rate) == pytest.approx(lr * r)
        assert (float(opt.beta_1), float(opt.beta_2)) == pytest.approx((0.0, 0.99 ** r))


def test_nvidias_values_are_the_defaults():
    model = build_gan(parse_config(TINY))
    nvidia = {"pl_decay": 0.01, "w_avg_beta": 0.995, "ada_kimg": 500.0, "ada_interval": 4, "pl_batch_shrink": 2,
              "g_reg_interval": 4, "d_reg_interval": 16}
    assert {key: getattr(model, key) for key in nvidia} == pytest.approx(nvidia)
    assert model.jit_compile is False  # "auto" means off for StyleGAN2 (XLA recompiles at regularisation steps)


def test_a_checkpoint_config_saved_before_the_knobs_existed_builds_with_their_defaults():
    config = parse_config(TINY)
    for key in ("pl_decay", "w_avg_beta", "ada_kimg", "ada_interval", "pl_batch_shrink", "g_reg_interval",
                "d_reg_interval"):
        del config[key]
    model = build_gan(config)
    assert (model.pl_decay, model.g_reg_interval, model.d_reg_interval) == (StyleGAN2Options.pl_decay, 4, 16)
