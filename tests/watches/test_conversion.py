"""watches.convert: NVIDIA's networks as ours, without torch.

tests/watches/data/nvidia_tiny.npz is what `python -m benchmarks.convert_check --configs tiny --write-fixture`
wrote from NVIDIA's own code (benchmarks/torch_convert.py): a 16-px G, G_ema and D with randomised weights
(z 24, w 16, 3 mapping layers, float16 on 2 resolutions, a conv clamp of 1.5 that clips, minibatch-std
group 2) as watches.nvidia_pickle reads them from the pickle, and NVIDIA's outputs for 4 latents."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from common.data import DataError
from common.runtime import checkpoint as ckpt
from watches import conversion, convert, inference, nvidia_pickle
from watches.sampling import run_generator
from watches.stylegan2 import generator, set_noise_mode

FIXTURE = Path(__file__).parent / "data" / "nvidia_tiny.npz"
TOLERANCE = 1e-4  # max |ours - NVIDIA's| / max |NVIDIA's|, per output


@pytest.fixture(scope="module")
def fixture():
    return nvidia_pickle.load_npz(FIXTURE)


@pytest.fixture(scope="module")
def converted(fixture, tmp_path_factory):
    out = tmp_path_factory.mktemp("converted") / "nvidia"
    assert convert.main([str(FIXTURE), "--out", str(out)]) == 0
    return out


def relative(ours, reference) -> float:
    reference = np.asarray(reference, np.float64)
    return float(np.max(np.abs(np.asarray(ours, np.float64) - reference)) / np.max(np.abs(reference)))


def outputs(gan, ref) -> dict:
    z, ones = ref["z"], np.ones([len(ref["z"]), 1], np.float32)
    set_noise_mode(gan.networks["synthesis"], "const")
    return {"w_ema": gan.networks["mapping_ema"]([z, ones]),
            "images_ema": run_generator(gan.generator_ema, z, 1.0),
            "images_ema_psi": run_generator(gan.generator_ema, z, float(ref["psi"])),
            "images_g": run_generator(generator(gan.networks["mapping"], gan.networks["synthesis"]), z, 1.0),
            "d_images_ema": gan.networks["discriminator"](ref["images_ema"]),
            "d_real": gan.networks["discriminator"](ref["real"])}


def with_kwargs(networks, network, **changes):
    """A copy of the networks with init kwargs of `network` changed (nested: "synthesis_kwargs.architecture")."""
    copy = {name: dict(d, init_kwargs=json.loads(json.dumps(d["init_kwargs"]))) for name, d in networks.items()}
    for names in ((network,) if network != "G" else ("G", "G_ema")):
        for key, value in changes.items():
            target = copy[names]["init_kwargs"]
            *path, last = key.split(".")
            for part in path:
                target = target.setdefault(part, {})
            target[last] = value
    return copy


def test_nvidias_settings_become_our_options(fixture):
    networks, _ = fixture
    config = conversion.nvidia_config(networks)
    expected = {"model": "stylegan2", "image_size": 16, "latent_dim": 24, "w_dim": 16, "mapping_layers": 3,
                "channel_base": 128, "channel_max": 16, "conv_clamp": 1.5, "mixed_resolutions": 2, "mbstd_group": 2,
                "w_avg_beta": 0.995}
    assert {key: config[key] for key in expected} == expected


def test_every_output_of_the_converted_networks_is_nvidias(fixture):
    networks, ref = fixture
    gan = conversion.converted_gan(networks, conversion.nvidia_config(networks))
    for name, ours in outputs(gan, ref).items():
        assert relative(ours, ref[name]) <= TOLERANCE, name


def test_the_fixture_tells_a_wrong_conversion_apart(fixture, monkeypatch):
    """The check can fail: no clamp, or D's last dense layer read in PyTorch's flattening order, is far off."""
    networks, ref = fixture
    unclamped = conversion.converted_gan(networks, {**conversion.nvidia_config(networks), "conv_clamp": None})
    assert relative(outputs(unclamped, ref)["images_ema"], ref["images_ema"]) > 1e-2
    monkeypatch.setattr(conversion, "_flattened_dense", lambda w, channels: w.T)
    unpermuted = conversion.converted_gan(networks, conversion.nvidia_config(networks))
    assert relative(outputs(unpermuted, ref)["d_real"], ref["d_real"]) > 1e-2


def test_convert_writes_a_run_at_step_0_that_generate_and_its_exported_card_load(converted, fixture):
    _, ref = fixture
    exported = inference.load(converted / "export" / "generator.keras")
    card = exported.card
    assert (card.task, card.model, card.image_size, card.latent_dim, card.step) == ("watches", "stylegan2", 16, 24, 0)
    assert relative(run_generator(exported.network(), ref["z"], float(ref["psi"])), ref["images_ema_psi"]) <= TOLERANCE
    run = inference.load(converted)  # the checkpoint: G, D and G_ema
    assert int(run.model.global_step.numpy()) == 0 and int(run.model.nimg.numpy()) == 0
    assert relative(run.model.networks["discriminator"](ref["real"]), ref["d_real"]) <= TOLERANCE
    assert json.loads((converted / "config.json").read_text())["mapping_layers"] == 3


# ------------------------------------------------------------------ refused in one line

@pytest.mark.parametrize("network, changes, message", [
    ("G", {"c_dim": 10}, "conditional model (c_dim 10)"),
    ("D", {"architecture": "orig"}, "D's architecture is 'orig'"),
    ("G", {"synthesis_kwargs.architecture": "resnet"}, "G's architecture is 'resnet'"),
    ("D", {"epilogue_kwargs.mbstd_num_channels": 2}, "minibatch-std layer has 2 channels"),
    ("G", {"mapping_kwargs.lr_multiplier": 0.1}, "learning-rate multiplier is 0.1"),
    ("D", {"conv_clamp": 256}, "G's conv_clamp 1.5 differs from D's 256"),
    ("G", {"img_resolution": 8}, "G is 8 px and D 16 px"),
])
def test_a_network_ours_cannot_be_is_refused_in_one_line(fixture, network, changes, message):
    networks, _ = fixture
    with pytest.raises(DataError, match="cannot convert this network") as err:
        conversion.nvidia_config(with_kwargs(networks, network, **changes))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_resolution_we_cannot_build_is_refused_in_one_line(fixture):
    networks, _ = fixture
    small = with_kwargs(with_kwargs(networks, "G", img_resolution=8), "D", img_resolution=8)
    with pytest.raises(DataError, match=r"--image-size 8 must be a power of two, at least 16"):
        conversion.nvidia_config(small)


def test_an_array_without_a_place_or_a_weight_without_an_array_stops_the_conversion(fixture):
    networks, _ = fixture
    config = conversion.nvidia_config(networks)
    extra = {**networks, "D": dict(networks["D"], arrays={**networks["D"]["arrays"],
                                                           "b16.conv2.weight": np.zeros([8, 8, 3, 3])})}
    with pytest.raises(DataError, match="b16.conv2.weight has no place in our network"):
        conversion.converted_gan(extra, config)
    arrays = dict(networks["G_ema"]["arrays"])
    del arrays["synthesis.b8.conv1.bias"]
    with pytest.raises(DataError, match="no NVIDIA array for 1 of our weights .*b8_conv1"):
        conversion.converted_gan({**networks, "G_ema": dict(networks["G_ema"], arrays=arrays)}, config)


def test_without_pytorch_or_nvidias_code_or_with_another_file_the_cli_says_what_to_do(tmp_path, monkeypatch, capsys):
    text = tmp_path / "notes.pkl"
    text.write_text("not a pickle")
    monkeypatch.setitem(sys.modules, "torch", None)  # as when PyTorch is not installed
    assert convert.main([str(text), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs PyTorch" in err and "pip install ganworks[convert]" in err

    monkeypatch.setitem(sys.modules, "torch", types.ModuleType("torch"))
    monkeypatch.setitem(sys.modules, "legacy", None)  # PyTorch present, NVIDIA's code not importable
    with pytest.raises(DataError, match="stylegan2-ada-pytorch code is not importable.*--nvidia-repo"):
        conversion.read_networks(text)
    with pytest.raises(DataError, match="is not a stylegan2-ada-pytorch checkout"):
        conversion.read_networks(text, nvidia_repo=tmp_path)

    def load_network_pkl(f):
        import pickle

        return pickle.load(f)

    monkeypatch.setitem(sys.modules, "legacy", types.SimpleNamespace(load_network_pkl=load_network_pkl))
    with pytest.raises(DataError, match=r"notes.pkl is not a stylegan2-ada-pytorch network pickle \(Unpickling"):
        conversion.read_networks(text)
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(DataError, match="other.npz is not a network file of watches.nvidia_pickle"):
        conversion.read_networks(tmp_path / "other.npz")
    assert convert.main([str(tmp_path / "missing.pkl"), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == f"error: no such file: {tmp_path / 'missing.pkl'}\n"


def test_convert_refuses_an_out_folder_that_holds_a_run(converted, capsys):
    assert convert.main([str(FIXTURE), "--out", str(converted)]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert [p.name for p in ckpt.CheckpointManager(converted / "checkpoints").complete_checkpoints()] == \
        ["ckpt-000000000"]


# ------------------------------------------------------------------ --init-from: fine-tuning a converted model

class NetworksAtStart:
    """Keras callback: the networks' float variables ({checkpoint identity: value}) when training begins."""

    def __init__(self):
        import keras

        outer = self

        class Callback(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                if outer.values is None:
                    outer.values = {k: np.array(v.numpy()) for k, v in ckpt.keyed_variables(self.model).items()
                                    if k.startswith("network/") and "float" in str(v.dtype)}

        self.values = None
        self.callback = Callback()


def saved_values(checkpoint) -> dict:
    state = ckpt.read_state(checkpoint)
    with np.load(Path(checkpoint) / ckpt.VARIABLES_FILE) as data:
        return {key: data[f"v{i:05d}"] for i, key in enumerate(state["variable_keys"])}


def test_a_run_started_from_a_converted_model_starts_at_step_0_from_exactly_its_weights(converted, tmp_path, capsys):
    from common.runtime.trainer import train as run_training
    from watches import train
    from watches.task import WatchesTask

    out = tmp_path / "finetuned"
    argv = ["--init-from", str(converted), "--data", "demo", "--batch-size", "2", "--epochs", "1",
            "--steps-per-epoch", "1", "--out", str(out), "--wandb", "disabled", "--pl-weight", "0",
            "--r1-gamma", "0", "--sample-every", "100", "--deterministic", "true"]
    config = train.parse_config(argv)
    # the networks' settings come from the converted model; the training settings are NVIDIA's transfer learning
    inherited = {"model": "stylegan2", "image_size": 16, "latent_dim": 24, "w_dim": 16, "mapping_layers": 3,
                 "channel_base": 128, "channel_max": 16, "conv_clamp": 1.5, "mixed_resolutions": 2}
    assert {key: config[key] for key in inherited} == inherited
    assert (config["ada_kimg"], config["ema_rampup"], config["augment_p"]) == (100.0, 0.0, 0.0)
    start = NetworksAtStart()
    result = run_training(WatchesTask(), config, extra_callbacks=[start.callback])
    assert result.step == 1 and "starting at step 0 from the networks of" in capsys.readouterr().out
    before = saved_values(ckpt.CheckpointManager(converted / "checkpoints").latest())
    assert start.values.keys() <= before.keys() and len(start.values) > 100
    for key, value in start.values.items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)
    after = saved_values(result.checkpoint)
    assert (after["model/global_step"], after["model/nimg"]) == (1, 2)  # one step from 0, not the converted run's
    assert not np.array_equal(after["network/synthesis/b16_conv1/weight"],
                              before["network/synthesis/b16_conv1/weight"])  # and it trained
    # the same command again continues this run from its own checkpoint; --init-from is not used twice
    epochs = argv.index("--epochs") + 1
    config = train.parse_config([*argv[:epochs], "2", *argv[epochs + 1:]])
    assert run_training(WatchesTask(), config).step == 2
    assert "is not used: this run resumes from its own checkpoint" in capsys.readouterr().out


@pytest.mark.parametrize("flags, message", [
    (["--image-size", "32"], "--image-size 32 differs from the 16 of --init-from"),
    (["--model", "dcgan"], "--model dcgan differs from the stylegan2 of --init-from"),
    (["--mapping-layers", "2"], "--mapping-layers 2 differs from the 3 of --init-from"),
])
def test_init_from_with_flags_that_change_the_networks_is_refused_in_one_line(converted, flags, message, capsys):
    from watches import train

    with pytest.raises(SystemExit) as exit_:
        train.parse_config(["--init-from", str(converted), *flags])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and message in err and err.count("\n") == 1


def test_networks_of_another_shape_are_refused_before_anything_is_assigned(converted):
    from common.runtime.config import run_config
    from watches.build import StyleGAN2Options, build_gan

    narrower = build_gan(run_config(StyleGAN2Options, "watches", image_size=16, latent_dim=24, w_dim=16,
                                    mapping_layers=3, channel_base=128, channel_max=8, batch_size=2))
    weight = narrower.networks["synthesis"].get_layer("b16_conv1").weight
    untouched = np.array(weight.numpy())
    with pytest.raises(ckpt.CheckpointError, match=r"--init-from .*: its networks are not this run's \(network/"
                                                   r".* has shape .* there, .* here\)"):
        ckpt.restore_networks(narrower, converted, "watches")
    np.testing.assert_array_equal(weight.numpy(), untouched)
