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


def test_cfg_cpu_is_a_cpu_sized_stylegan2_whose_given_flags_still_win(capsys):
    from watches.build import build_networks
    from watches.stylegan2 import channels_at, trainable_count

    config = parse_config(["--model", "stylegan2", "--cfg", "cpu", "--wandb", "disabled"])
    cpu = {k: config[k] for k in ("cfg", "image_size", "latent_dim", "w_dim", "mapping_layers", "channel_max",
                                  "batch_size")}
    assert cpu == {"cfg": "cpu", "image_size": 32, "latent_dim": 64, "w_dim": 64, "mapping_layers": 2,
                   "channel_max": 128, "batch_size": 8}
    # --cfg auto's rules follow from size and batch: R1 gamma 0.0002 * 32^2 / 8, EMA half-life 8 * 10/32 kimg
    assert config["r1_gamma"] == pytest.approx(0.0256) and config["g_ema_kimg"] == pytest.approx(2.5)
    channels = [channels_at(r, config["channel_base"], config["channel_max"]) for r in (4, 8, 16, 32)]
    assert channels == [128, 128, 128, 64]
    nets = build_networks(config)  # built only, never trained
    # mapping: 2 dense layers 64 -> 64 (64 * 64 weights + 64 biases each)
    assert trainable_count(nets["mapping"]) == 2 * (64 * 64 + 64) == 8_320
    assert trainable_count(nets["synthesis"]) == 935_251
    assert trainable_count(nets["discriminator"]) == 1_153_473
    assert nets["synthesis"].output_shape == (None, 32, 32, 3)
    # flags given override the cfg's values; --cfg auto (the default) is NVIDIA's
    given = parse_config(["--model", "stylegan2", "--cfg", "cpu", "--batch-size", "16", "--image-size", "64"])
    assert (given["batch_size"], given["image_size"], given["w_dim"]) == (16, 64, 64)
    auto = parse_config(["--model", "stylegan2"])
    assert (auto["cfg"], auto["image_size"], auto["batch_size"], auto["w_dim"]) == ("auto", 128, 32, 512)
    with pytest.raises(SystemExit):
        parse_config(["--cfg", "cpu"])  # the DCGAN has no --cfg
    assert "--cfg applies to --model stylegan2 only" in capsys.readouterr().err
