"""Every task's typed presets: the flags, --help, defaults, precedence and checks all come from them."""

from __future__ import annotations

import dataclasses
import importlib

import pytest

from common.runtime.config import build_parser, run_config
from common.runtime.options import ConfigError

TASKS = {"night2day": "Night2DayOptions", "inpainting": "InpaintingOptions", "watches": "WatchesOptions"}


def options_of(task):
    build = importlib.import_module(f"{task}.build")
    return getattr(build, TASKS[task]), build.PRESETS


def help_entries(task) -> dict:
    """{--flag: its help text} of `python -m <task>.train --help`."""
    options, presets = options_of(task)
    parser = build_parser(options, presets)
    return {a.option_strings[0]: " ".join(a.help.split()) for a in parser._actions if a.option_strings}


@pytest.mark.parametrize("task", sorted(TASKS))
def test_help_shows_a_default_for_every_flag(task):
    entries = help_entries(task)
    _, presets = options_of(task)
    names = tuple(f"{name} " for name in presets)
    for flag, text in entries.items():
        if flag in ("-h", "--config"):
            continue
        shown = text.rsplit("(", 1)[-1]
        assert shown.startswith("default ") or shown.startswith(names), f"{flag}: {text}"
    for flag in ("--epochs", "--batch-size", "--checkpoint-every", "--sample-every", "--steps-per-epoch"):
        assert flag in entries


def test_help_names_each_presets_value_where_they_differ():
    night = help_entries("night2day")
    assert night["--filters"].endswith("(resnet 64, multiscale 16)")
    assert night["--epochs"].endswith("(resnet 100, multiscale 30000)")
    assert night["--checkpoint-every"].endswith("(resnet 1000, multiscale 2000)")
    assert night["--model"].endswith("(default multiscale)")
    assert help_entries("inpainting")["--batch-size"].endswith("(improved 256, context-encoder 64)")
    watches = help_entries("watches")
    assert watches["--pl-decay"].endswith("(stylegan2 0.01)")  # an option only StyleGAN2 has
    assert watches["--label-flip"].endswith("(dcgan 0.1)")
    assert watches["--flip"].endswith("(default false)")
    assert help_entries("night2day")["--flip"].endswith("(resnet true, multiscale false)")


def test_a_preset_beats_the_task_default_and_a_flag_beats_the_preset():
    from night2day.train import parse_config

    assert parse_config([])["filters"] == 16 and parse_config([])["history_pool"] == 0  # multiscale, the default
    resnet = parse_config(["--model", "resnet"])
    assert (resnet["filters"], resnet["history_pool"], resnet["epochs"]) == (64, 50, 100)
    flagged = parse_config(["--model", "resnet", "--filters", "8", "--epochs", "3"])
    assert (flagged["filters"], flagged["history_pool"], flagged["epochs"]) == (8, 50, 3)
    assert flagged["explicit_keys"] == ["epochs", "filters", "model"]


def test_a_config_file_beats_the_preset_and_a_flag_beats_the_file(tmp_path):
    from inpainting.train import parse_config

    (tmp_path / "c.json").write_text('{"model": "context-encoder", "batch-size": 8, "recon_weight": 50}')
    c = parse_config(["--config", str(tmp_path / "c.json"), "--recon-weight", "20"])
    assert (c["model"], c["batch_size"], c["recon_weight"], c["bottleneck"]) == ("context-encoder", 8, 20.0, 4000)


@pytest.mark.parametrize("text, message", [
    ("learning_rate: 0.1\n", "unknown option(s) in config file: learning_rate"),
    ("w-dim: 8\n", "--w-dim applies to --model stylegan2 only, not dcgan"),
    ("model: stylegan2\nlabel_flip: 0.2\n", "--label-flip applies to --model dcgan only, not stylegan2"),
    ("model: stylegan2\npl_decay: -1\n", "--pl-decay must not be negative"),
    ("epochs: many\n", "--epochs must be a whole number, got 'many'"),
    ("mirror: perhaps\n", "--flip: expected true/false, got 'perhaps'"),  # the old key of --flip
    ("wandb: sometimes\n", "--wandb must be auto, online, offline or disabled, got 'sometimes'"),
])
def test_a_config_file_with_an_unknown_key_another_models_key_or_a_bad_value_is_refused(text, message, tmp_path, capsys):
    from watches.train import parse_config

    (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(SystemExit) as exc:
        parse_config(["--config", str(tmp_path / "c.yaml")])
    assert exc.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(message)


def test_each_model_saves_only_its_own_options():
    from watches.train import parse_config

    dcgan, sg2 = parse_config([]), parse_config(["--model", "stylegan2"])
    assert "w_dim" not in dcgan and "label_flip" in dcgan
    assert "label_flip" not in sg2 and {"pl_decay", "w_avg_beta", "ada_kimg", "g_reg_interval"} <= set(sg2)


def test_derived_values_are_filled_into_a_new_instance():
    from inpainting.build import ContextEncoderOptions, ImprovedOptions
    from night2day.build import ResNetOptions
    from watches.build import StyleGAN2Options

    sg2 = StyleGAN2Options(image_size=64, batch_size=8)
    resolved = sg2.resolved()
    assert (resolved.r1_gamma, resolved.g_ema_kimg) == (pytest.approx(0.0002 * 64 ** 2 / 8), 2.5)
    assert (sg2.r1_gamma, sg2.g_ema_kimg) == (None, None)  # the given instance is unchanged (frozen)
    assert ResNetOptions(image_size=128).resolved().load_size == 360
    assert ImprovedOptions(image_size=64).resolved().overlap == 2
    assert ContextEncoderOptions().resolved().overlap == 8  # Pathak's 4 px at 128, at the preset's 256
    with pytest.raises(dataclasses.FrozenInstanceError):
        sg2.r1_gamma = 1.0


@pytest.mark.parametrize("preset, values, message", [
    ("night2day.build:MultiScaleOptions", {"image_size": 48}, "--image-size 48 must be divisible by 32"),
    ("inpainting.build:ImprovedOptions", {"hole_min": 0.6, "hole_max": 0.5}, "--hole-min 0.6 and --hole-max 0.5"),
    ("watches.build:StyleGAN2Options", {"batch_size": 6}, "--batch-size 6 must be a multiple of the minibatch-std"),
    ("watches.build:StyleGAN2Options", {"g_reg_interval": 0}, "--g-reg-interval must be positive"),
    ("watches.build:DCGANOptions", {"epochs": 0}, "--epochs must be a positive whole number, got 0"),
])
def test_validation_is_a_one_line_config_error(preset, values, message):
    module, name = preset.split(":")
    with pytest.raises(ConfigError, match="^" + message.replace("(", r"\(").replace("[", r"\[")):
        run_config(getattr(importlib.import_module(module), name), module.split(".")[0], **values)
