"""The one generator card and loader (common.runtime.generator), for every task's models.

An exported generator of each of the five models (six presets) loads through the one loader and
computes what its checkpoint computes; a card or checkpoint of another task, a missing or foreign
card and a damaged checkpoint are each refused in one line; exports are atomic; every form of
--checkpoint resolves to its run folder.
"""

from __future__ import annotations

import importlib
import json

import keras
import numpy as np
import pytest

from common.data import DataError
from common.runtime import generator as gen
from common.runtime.checkpoint import CheckpointManager
from common.runtime.config import save_config
from tests.common.tiny_models import COMMON, MODELS, task_and_parser

TASKS = ("night2day", "inpainting", "watches")


def trained_run(name, out, step=7):
    """A run folder of model `name` (MODELS) as training leaves it: config.json, a checkpoint at `step`,
    and its exported generators with their cards (the task's own on_finish)."""
    task_name, flags, _ = MODELS[name]
    task, parse_config = task_and_parser(task_name)
    config = parse_config([*COMMON, *flags, "--out", str(out)])
    task.prepare(config)
    keras.utils.set_random_seed(1)
    model = task.build_model(config)
    model.build_optimizers()
    out.mkdir(parents=True, exist_ok=True)
    save_config(config, out / "config.json")
    CheckpointManager(out / "checkpoints").save(model, step, {"config": config, "task": task_name})
    task.on_finish(model, config, step=step)
    return importlib.import_module(f"{task_name}.inference")


def outputs(net):
    """The network's output for fixed inputs of its own input shapes (psi = 0.7 for StyleGAN2)."""
    rng = np.random.default_rng(0)
    inputs = [np.full((2, 1), 0.7, np.float32) if tuple(i.shape[1:]) == (1,) else
              rng.standard_normal((2, *i.shape[1:])).astype(np.float32) for i in net.inputs]
    return np.asarray(net(inputs if len(inputs) > 1 else inputs[0], training=False))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_an_exported_generator_loads_through_the_one_loader_and_matches_its_checkpoint(name, tmp_path):
    run = tmp_path / "run"
    inference = trained_run(name, run)
    from_run = inference.load(run)
    assert from_run.config is not None and from_run.model is not None
    assert sorted(p.name for p in (run / "export").iterdir()) == sorted(
        f"{n}.{ext}" for n in from_run.networks for ext in ("json", "keras"))
    for network, net in from_run.networks.items():
        exported = inference.load(run / "export" / f"{network}.keras")
        assert list(exported.networks) == [network] and exported.model is None
        card = exported.cards[network]
        assert card == from_run.cards[network]
        assert (card.task, card.model, card.step, card.format) == (MODELS[name][0], name.split("-", 1)[1], 7, 1)
        assert card.image_size == from_run.config["image_size"] and card.value_range in ("tanh", "sigmoid")
        expected = outputs(net)
        assert np.isfinite(expected).all() and expected.std() > 0
        np.testing.assert_array_equal(outputs(exported.network()), expected)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One tiny run per task."""
    root = tmp_path_factory.mktemp("runs")
    names = {"night2day": "night2day-resnet", "inpainting": "inpainting-improved", "watches": "watches-dcgan"}
    return {task: (trained_run(name, root / task), root / task) for task, name in names.items()}


@pytest.mark.parametrize("given,loader", [(g, t) for g in TASKS for t in TASKS if g != t])
@pytest.mark.parametrize("form", ["run folder", "checkpoint", "exported file"])
def test_another_tasks_run_or_card_is_refused_in_one_line(given, loader, form, runs):
    run = runs[given][1]
    path = {"run folder": run, "checkpoint": CheckpointManager(run / "checkpoints").latest(),
            "exported file": next((run / "export").glob("*.keras"))}[form]
    with pytest.raises(DataError) as info:
        runs[loader][0].load(path)
    message = str(info.value)
    assert len(message.splitlines()) == 1
    assert f" a {given} " in message or f" an {given} " in message
    assert f"python -m {loader}.train" in message


def test_a_keras_file_without_its_card_or_with_a_foreign_one_is_refused_in_one_line(runs, tmp_path):
    inference, run = runs["watches"]
    exported = run / "export" / "generator.keras"
    lone = tmp_path / "lone.keras"
    lone.write_bytes(exported.read_bytes())
    with pytest.raises(DataError, match="has no generator card"):
        inference.load(lone)
    for text, problem in (("{", "cannot be read"), ('{"training_scale": 256}', "not a generator card"),
                          (json.dumps({**json.loads(gen.card_path(exported).read_text()), "format": 99}),
                           "not a generator card")):
        gen.card_path(lone).write_text(text)
        with pytest.raises(DataError, match=problem) as info:
            inference.load(lone)
        assert len(str(info.value).splitlines()) == 1


def test_a_damaged_checkpoint_is_refused_in_one_line(runs, tmp_path):
    inference, run = runs["inpainting"]
    checkpoint = CheckpointManager(run / "checkpoints").latest()
    damaged = tmp_path / checkpoint.name
    damaged.mkdir()
    (damaged / "state.json").write_text((checkpoint / "state.json").read_text())
    (damaged / "variables.npz").write_bytes((checkpoint / "variables.npz").read_bytes()[:1000])
    with pytest.raises(DataError, match="truncated or damaged") as info:
        inference.load(damaged)
    assert len(str(info.value).splitlines()) == 1


def small_network():
    return keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(3, 2, strides=2, name="conv")])


CARD = gen.GeneratorCard(task="watches", model="dcgan", network="generator", value_range="tanh", image_size=8,
                         latent_dim=4, step=3)


def test_a_card_round_trips_and_says_the_package_version(tmp_path):
    path = gen.export(small_network(), tmp_path / "g.keras", CARD)
    assert gen.GeneratorCard.read(path) == CARD
    assert json.loads(gen.card_path(path).read_text())["version"] == gen.package_version() != ""


@pytest.mark.parametrize("failing_replace", [1, 2])
def test_a_failed_export_leaves_no_keras_file_without_its_card(failing_replace, tmp_path, monkeypatch):
    real_replace, calls = gen.os.replace, []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == failing_replace:
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr(gen.os, "replace", replace)
    with pytest.raises(OSError, match="disk full"):
        gen.export(small_network(), tmp_path / "g.keras", CARD)
    assert list(tmp_path.iterdir()) == []  # neither the .keras, its card nor a temporary file


def test_a_failed_save_leaves_nothing(tmp_path, monkeypatch):
    net = small_network()

    def broken_save(path, *args, **kwargs):
        open(path, "wb").write(b"half a zip")
        raise RuntimeError("interrupted")

    monkeypatch.setattr(net, "save", broken_save)
    with pytest.raises(RuntimeError):
        gen.export(net, tmp_path / "g.keras", CARD)
    assert list(tmp_path.iterdir()) == []


def test_every_form_of_checkpoint_resolves_to_its_run_folder(tmp_path):
    run = tmp_path / "runs" / "mine"
    for folder in ("checkpoints/ckpt-000000010", "checkpoints/downloaded/ckpt-000000020", "export"):
        (run / folder).mkdir(parents=True)
    (run / "config.json").write_text("{}")
    (run / "export" / "generator.keras").write_bytes(b"")
    for given in ("", "checkpoints", "checkpoints/ckpt-000000010", "checkpoints/downloaded/ckpt-000000020",
                  "export", "export/generator.keras"):
        assert gen.run_folder(run / given) == run, given
    loose = tmp_path / "elsewhere" / "g.keras"  # outside any run: beside the file
    loose.parent.mkdir()
    loose.write_bytes(b"")
    assert gen.run_folder(loose) == loose.parent
