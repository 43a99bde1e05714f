"""night2day end to end through its command-line modules, on the built-in demo data at tiny size."""

import json
from pathlib import Path

import numpy as np
import pytest

from common.data import load_image, resize
from night2day.demo import demo_dataset
from common.runtime import checkpoint as ckpt
from common.runtime.images import LABEL_BAND
from night2day import train, translate
from night2day.evaluation import evaluate
from night2day.inference import Translator
from night2day.task import Night2DayTask

TINY = {
    "resnet": ["--model", "resnet", "--filters", "4", "--res-blocks", "1"],
    "multiscale": ["--model", "multiscale", "--filters", "4"],
}


def run_train(out, model, *extra):
    return train.main([*TINY[model], "--data", "demo", "--image-size", "32", "--out", str(out),
                       "--steps-per-epoch", "2", "--checkpoint-every", "3", "--sample-every", "2",
                       "--wandb", "disabled", "--batch-size", "2", *extra])


@pytest.mark.parametrize("model", ["resnet", "multiscale"])
def test_train_resume_translate_evaluate(model, tmp_path, capsys, feature_extractor):
    out = tmp_path / "run"
    assert run_train(out, model, "--epochs", "2") == 0
    latest = ckpt.CheckpointManager(out / "checkpoints").latest()
    assert ckpt.read_state(latest)["step"] == 4
    assert (out / "export" / "generator_g.keras").is_file()
    scale = 88 if model == "resnet" else 32  # the training scale (--load-size)
    card = json.loads((out / "export" / "generator_g.json").read_text())
    assert (card["task"], card["model"], card["network"], card["training_scale"], card["step"]) == (
        "night2day", model, "generator_g", scale, 4)
    # the demo's test split is paired: the end of training scores G(night) against the true day images
    table = capsys.readouterr().out.split("paired test images (8): how close to the true day image\n")[1]
    rows = {line.split("  ")[0]: line.split()[-2:] for line in table.splitlines()[2:5]}
    assert sorted(rows) == ["G(night)", "colour transfer", "night (untranslated)"]
    assert all(0 < float(psnr) < 60 and -1 <= float(ssim) <= 1 for psnr, ssim in rows.values())
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["step_000000002.png", "step_000000004.png"]
    grid = np.asarray(load_image(str(out / "samples" / "step_000000002.png")))
    assert grid.shape[0] > grid.shape[1]  # 8 rows (4 night, 4 day) of 3 images
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == model and config["image_size"] == 32

    # continue the same run for one more epoch: resumes at step 4
    assert run_train(out, model, "--epochs", "3") == 0
    printed = capsys.readouterr().out
    assert "resuming from" in printed and "at step 4/6" in printed
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]

    demo = demo_dataset()
    night = sorted((demo / "testA").iterdir())[0]
    translated = tmp_path / "translated"
    assert translate.main(["--checkpoint", str(out), "--input", str(night), "--out", str(translated),
                           "--grid"]) == 0
    original = np.asarray(load_image(str(night)))
    result = np.asarray(load_image(str(translated / f"{night.stem}.png")))
    assert result.shape == original.shape  # --size train (the default) gives back the input's size
    assert (translated / f"{night.stem}_grid.png").is_file()

    results = evaluate(out, demo, extractor=feature_extractor, metrics=["fid", "kid"],
                       max_images=6, kid_subset_size=3)
    for key in ("cycle_night_psnr", "cycle_night_ssim", "cycle_day_psnr", "cycle_day_ssim"):
        assert np.isfinite(results[key])
    assert 0 < results["cycle_night_psnr"] < 100 and -1 <= results["cycle_night_ssim"] <= 1
    assert results["n_test_night"] == 6
    assert results["eval_size"] == scale
    assert any(k.startswith("day_vs_translated_fid") for k in results)


def test_translate_at_training_scale_original_size_and_export(tmp_path, capsys):
    out = tmp_path / "run"
    assert run_train(out, "resnet", "--epochs", "1") == 0
    image = np.random.default_rng(0).integers(0, 255, (36, 52, 3), dtype=np.uint8)
    from common.runtime.images import save_png

    src = tmp_path / "in" / "wide.png"
    save_png(src, image)
    exported = tmp_path / "g.keras"
    assert translate.main(["--checkpoint", str(out), "--input", str(src.parent), "--out",
                           str(tmp_path / "o"), "--export", str(exported)]) == 0
    assert np.asarray(load_image(str(tmp_path / "o" / "wide.png"))).shape == (36, 52, 3)
    # --size train: resized to the 88-px training scale (32 * 720/256, as in training), translated, resized back
    translator = Translator.load(out)
    assert translator.training_scale == 88
    at_scale = translator.translate(np.clip(np.round(np.asarray(resize(image, (88, 88)))), 0, 255).astype(np.uint8),
                                    "original")
    expected = np.asarray(resize(at_scale, (36, 52)))
    assert np.abs(np.asarray(load_image(str(tmp_path / "o" / "wide.png"))) - expected).max() <= 3
    # --size original runs the fully convolutional generator at the image's own 36 x 52 (rounded to 36 x 52)
    assert translate.main(["--checkpoint", str(out), "--input", str(src), "--out", str(tmp_path / "orig"),
                           "--size", "original"]) == 0
    own = np.asarray(load_image(str(tmp_path / "orig" / "wide.png")))
    assert own.shape == (36, 52, 3) and np.array_equal(own, translator.translate(image, "original"))
    assert not np.array_equal(own, np.asarray(load_image(str(tmp_path / "o" / "wide.png"))))
    # the exported generator alone translates the same way: its training scale travels in g.json
    card = json.loads(exported.with_suffix(".json").read_text())
    assert card["training_scale"] == 88 and card["network"] == "generator_g"
    assert translate.main(["--checkpoint", str(exported), "--input", str(src), "--out",
                           str(tmp_path / "o2")]) == 0
    # a fixed square size, with the side-by-side sheet
    assert translate.main(["--checkpoint", str(out), "--input", str(src), "--out", str(tmp_path / "o3"),
                           "--size", "32", "--grid"]) == 0
    assert np.asarray(load_image(str(tmp_path / "o3" / "wide.png"))).shape == (32, 32, 3)
    # the sheet's 32-px images enlarged 4 times (nearest) to 128 px, under a band naming the columns
    sheet = np.asarray(load_image(str(tmp_path / "o3" / "wide_grid.png")))
    assert sheet.shape == (LABEL_BAND + 128 + 4, 3 * (128 + 2) + 2, 3)
    tile = sheet[LABEL_BAND + 2:LABEL_BAND + 130, 2:130]
    assert np.array_equal(tile, np.repeat(np.repeat(tile[::4, ::4], 4, axis=0), 4, axis=1))
    a = np.asarray(load_image(str(tmp_path / "o" / "wide.png"))).astype(int)
    b = np.asarray(load_image(str(tmp_path / "o2" / "wide.png"))).astype(int)
    assert np.max(np.abs(a - b)) <= 1
    # without its card, what an exported generator was trained on is unknown: refused in one line
    exported.with_suffix(".json").unlink()
    capsys.readouterr()
    with pytest.raises(SystemExit, match="2"):
        translate.main(["--checkpoint", str(exported), "--input", str(src), "--out", str(tmp_path / "o4")])
    err = capsys.readouterr().err.strip()
    assert "has no generator card (g.json)" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o4").exists()


def test_missing_domain_folder_is_named(tmp_path, capsys):
    (tmp_path / "data" / "trainA").mkdir(parents=True)
    code = train.main(["--data", str(tmp_path / "data"), "--out", str(tmp_path / "o"), "--wandb", "disabled"])
    assert code == 2
    assert "trainB" in capsys.readouterr().err


@pytest.mark.parametrize("broken", ["empty", "unreadable"])
def test_unusable_training_images_are_reported_before_anything_is_created(broken, tmp_path, capsys):
    data = tmp_path / "data"
    for split in ("trainA", "trainB"):
        (data / split).mkdir(parents=True)
        (data / split / "ok.png").write_bytes((demo_dataset() / "trainA").joinpath(
            sorted(p.name for p in (demo_dataset() / "trainA").iterdir())[0]).read_bytes())
    (data / "trainA" / "ok.png").unlink()
    if broken == "unreadable":
        (data / "trainA" / "zero.jpg").write_bytes(b"")
        (data / "trainA" / "text.png").write_text("not an image")
    out = tmp_path / "run"
    code = train.main(["--model", "resnet", "--data", str(data), "--out", str(out), "--wandb", "offline"])
    assert code == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and "trainA" in err[0]
    assert not out.exists()  # no run folder, no model, no W&B run


def test_wandb_config_leads_with_the_notebooks_keys():
    c = train.parse_config(["--epochs", "30000"])
    wb = Night2DayTask().wandb_config(c)
    assert {k: wb[k] for k in ("epochs", "batch_size", "learning_rate", "architecture")} == {
        "epochs": 30000, "batch_size": 4, "learning_rate": 1e-4, "architecture": "Multi-Scale CycleGAN"}


def test_the_notebook_command_starts_a_full_size_run_with_its_settings(tmp_path):
    """`python -m night2day.train --epochs 30000`: full-size multi-scale models, one step, clean stop.

    The step runs on 64-px crops instead of the default 256 (the networks are fully convolutional: the same
    parameters, a sixteenth of the CPU time); the defaults the notebook relies on are checked as parsed."""
    import subprocess
    import sys

    defaults = train.parse_config(["--epochs", "30000"])
    assert (defaults["model"], defaults["epochs"], defaults["steps_per_epoch"], defaults["batch_size"],
            defaults["image_size"]) == ("multiscale", 30000, 1, 4, 256)
    repo = Path(__file__).resolve().parents[2]
    out = tmp_path / "nb"
    proc = subprocess.run([sys.executable, "-m", "night2day.train", "--epochs", "30000", "--data", "demo",
                           "--out", str(out), "--wandb", "disabled", "--max-duration", "1s", "--image-size", "64"],
                          cwd=repo, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "stopped at --max-duration at step 1/30000" in proc.stdout
    assert (out / "export" / "generator_g.keras").is_file()  # a session cut short still exports
    config = json.loads((out / "config.json").read_text())
    assert (config["model"], config["epochs"], config["steps_per_epoch"], config["batch_size"],
            config["image_size"]) == ("multiscale", 30000, 1, 4, 64)
    state = ckpt.read_state(ckpt.CheckpointManager(out / "checkpoints").latest())
    assert state["step"] == 1
    # the four networks at the default --filters are in the checkpoint, with Adam's two slots for each (their
    # parameter counts at 256 px, 2 x 19,998,339 + 2 x 5,469,667, are tests/night2day/test_models.py's)
    sizes = {key: int(np.prod(shape)) for key, shape in zip(state["variable_keys"], state["variable_shapes"])}
    nets = {key.split("/")[1] for key in sizes if key.startswith("network/")}
    assert nets == {"generator_g", "generator_f", "discriminator_x", "discriminator_y"}
    networks = sum(n for key, n in sizes.items() if key.startswith("network/"))
    assert networks > 40_000_000 and sum(sizes.values()) >= 3 * networks
