"""night2day.build: each preset's SPEC settings (section 1) reach the resolved config and the compiled CycleGAN."""

import pytest

from night2day.build import build_cyclegan, build_networks, learning_rate
from night2day.train import parse_config

# SPEC section 1: model A (the ResNet CycleGAN) and model B (the multi-scale notebook)
SPEC = {
    "resnet": dict(image_size=256, batch_size=1, epochs=100, steps_per_epoch=None, filters=64, res_blocks=9,
                   weight_init="normal", lr_g=2e-4, lr_d=2e-4, beta_1=0.5, beta_2=0.999, inverse_time_decay=0.0,
                   cycle_weight=10.0, identity_weight=5.0, checkpoint_every=1000, sample_every=500),
    "multiscale": dict(image_size=256, batch_size=4, epochs=30000, steps_per_epoch=1, filters=16, kernel_size=5,
                       fusion_kernel=16, inception_residual=False, weight_init="keras", lr_g=5e-5, lr_d=1e-4,
                       beta_1=0.9, beta_2=0.999, inverse_time_decay=6e-8, cycle_weight=10.0, identity_weight=0.5,
                       checkpoint_every=2000, sample_every=1000),
}
TINY = ["--image-size", "32", "--filters", "4", "--res-blocks", "1"]


@pytest.mark.parametrize("model", ["resnet", "multiscale"])
def test_presets_set_the_spec_settings_in_the_config_and_the_compiled_model(model):
    # multiscale, the source notebook's model, is what no --model gives
    config = parse_config(["--model", "resnet"] if model == "resnet" else [])
    assert config["model"] == model
    assert {k: config[k] for k in SPEC[model]} == SPEC[model]
    # the CycleGAN paper's pool of 50 past fakes for the ResNet model; the multi-scale notebook had none
    assert config["wandb_project"] == "night2day-cyclegan"
    assert config["history_pool"] == (50 if model == "resnet" else 0)
    assert config["decay_epochs"] == 0

    tiny = parse_config(["--model", model, *TINY, "--steps-per-epoch", "2"])
    gan = build_cyclegan(tiny)
    assert (gan.cycle_weight, gan.identity_weight) == (SPEC[model]["cycle_weight"], SPEC[model]["identity_weight"])
    for name, opt in gan.optimizers.items():
        base = SPEC[model]["lr_g"] if name in ("g", "f") else SPEC[model]["lr_d"]
        assert (opt.beta_1, opt.beta_2) == (SPEC[model]["beta_1"], SPEC[model]["beta_2"]), name
        assert float(opt.learning_rate) == pytest.approx(base), name
        # the legacy Adam(decay=6e-8) of the multi-scale notebook: lr / (1 + 6e-8 * iteration)
        opt.iterations.assign(10_000_000)
        assert float(opt.learning_rate) == pytest.approx(base / (1 + SPEC[model]["inverse_time_decay"] * 1e7)), name


def test_decay_epochs_ends_the_learning_rate_at_zero():
    config = parse_config(["--model", "resnet", *TINY, "--epochs", "4", "--steps-per-epoch", "10",
                           "--decay-epochs", "2"])
    lr = learning_rate(config, 2e-4)
    assert [float(lr(step)) for step in (0, 20, 30)] == pytest.approx([2e-4, 2e-4, 1e-4])
    assert float(lr(40)) == pytest.approx(0.0, abs=1e-12)


def test_networks_are_named_by_their_role():
    nets = build_networks(parse_config(["--model", "resnet", *TINY]))
    assert {name: net.name for name, net in nets.items()} == {
        "generator_g": "generator_g", "generator_f": "generator_f",
        "discriminator_x": "discriminator_x", "discriminator_y": "discriminator_y"}
