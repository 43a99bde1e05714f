"""watches end to end through its command-line modules, on the built-in demo data at tiny size."""

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from common.runtime import checkpoint as ckpt
from watches import train
from watches.build import build_gan


def run_train(out, *extra):
    return train.main(["--data", "demo", "--image-size", "32", "--filters", "4", "--latent-dim", "8",
                       "--batch-size", "4", "--steps-per-epoch", "2", "--checkpoint-every", "2",
                       "--sample-every", "2", "--out", str(out), "--wandb", "disabled", *extra])


def restored(run):
    path = ckpt.CheckpointManager(run / "checkpoints").latest()
    model = build_gan(ckpt.read_state(path)["config"])
    ckpt.restore(model, path)
    return model


def test_train_prints_a_data_summary_logs_the_tricks_and_exports(tmp_path, capsys):
    out = tmp_path / "run"
    assert run_train(out, "--epochs", "2", "--patch-discriminator", "true", "--flip", "true") == 0
    printed = capsys.readouterr().out
    assert "data: 48 images in" in printed and "sizes seen: 64x64 (48)" in printed
    log = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3, 4]
    for key in ("d_loss", "g_loss", "d_x", "d_g_z", "d_acc_real", "d_acc_fake", "flip_share"):
        assert np.isfinite(log[-1][key])
    assert 0 <= log[-1]["d_acc_real"] <= 1
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["step_000000002.png", "step_000000004.png"]
    generator = keras.saving.load_model(out / "export" / "generator.keras")
    assert generator.output_shape == (None, 32, 32, 3)


def written(folder) -> list[str]:
    """Every file under folder, as paths relative to it."""
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*") if p.is_file())


def test_generate_is_deterministic_per_seed_and_writes_exactly_what_was_asked_for(tmp_path, capsys):
    from common.data import load_image
    from common.runtime.images import LABEL_BAND
    from watches import generate

    out = tmp_path / "run"
    assert run_train(out, "--epochs", "1") == 0
    assert generate.main(["--checkpoint", str(out), "--seeds", "0-3,7", "--out", str(tmp_path / "a"), "--grid",
                          "--interpolate", "3,7", "--steps", "5"]) == 0
    assert generate.main(["--checkpoint", str(out / "export" / "generator.keras"), "--seeds", "7,3",
                          "--out", str(tmp_path / "b")]) == 0
    assert written(tmp_path / "a") == ["grid.png", "interpolation_3_7.png", "seeds/seed0000.png",
                                       "seeds/seed0001.png", "seeds/seed0002.png", "seeds/seed0003.png",
                                       "seeds/seed0007.png"]
    assert written(tmp_path / "b") == ["seeds/seed0003.png", "seeds/seed0007.png"]
    image = lambda d, name: np.asarray(load_image(str(tmp_path / d / name)))  # noqa: E731
    for seed in ("seeds/seed0003.png", "seeds/seed0007.png"):  # a seed gives one image, checkpoint or export
        assert np.array_equal(image("a", seed), image("b", seed))
    assert image("a", "seeds/seed0000.png").shape == (32, 32, 3)  # the images at the model's own size
    assert not np.array_equal(image("a", "seeds/seed0000.png"), image("a", "seeds/seed0001.png"))
    # the sheets: the 32-px images enlarged 4 times, each captioned in a band under it
    grid = image("a", "grid.png")
    assert grid.shape == (2 * (128 + LABEL_BAND + 2) + 2, 3 * (128 + 2) + 2, 3)  # 5 seeds, 3 a row
    assert np.array_equal(grid[2:130, 2:130], np.repeat(np.repeat(image("a", "seeds/seed0000.png"), 4, 0), 4, 1))
    strip = image("a", "interpolation_3_7.png")
    assert strip.shape == (128 + LABEL_BAND + 4, 5 * (128 + 2) + 2, 3)  # five images side by side
    # only what is asked for: an interpolation alone writes no seed images and no grid
    assert generate.main(["--checkpoint", str(out), "--interpolate", "0,1", "--out", str(tmp_path / "c")]) == 0
    assert written(tmp_path / "c") == ["interpolation_0_1.png"]
    assert generate.main(["--checkpoint", str(out), "--grid", "--out", str(tmp_path / "d")]) == 0
    assert written(tmp_path / "d") == ["grid.png"]
    with pytest.raises(SystemExit, match="2"):
        generate.main(["--checkpoint", str(out), "--seeds", "5-2", "--out", str(tmp_path / "c")])
    assert "not a seed list" in capsys.readouterr().err


def test_evaluate_reports_fid_kid_is_and_precision_recall_on_demo_data(tmp_path, capsys, monkeypatch,
                                                                     feature_extractor):
    from watches.demo import demo_dataset
    from watches import evaluate
    from watches.evaluation import evaluate_generator
    from watches.inference import load_generator

    out = tmp_path / "run"
    assert run_train(out, "--epochs", "1") == 0
    generator, latent_dim = load_generator(out)
    result = evaluate_generator(generator, latent_dim, demo_dataset(), extractor=feature_extractor,
                                num_fake=24, cache_dir=False)
    assert (result["n_real"], result["n_fake"]) == (48, 24)
    assert result["fid"] > 0 and result["is"] >= 1 and 0 <= result["precision"] <= 1 and 0 <= result["recall"] <= 1
    again = evaluate_generator(generator, latent_dim, demo_dataset(), extractor=feature_extractor,
                               num_fake=24, cache_dir=False)
    assert again["fid"] == result["fid"]  # the generated latents are seeded
    # offline there are no InceptionV3 weights: one line saying how to provide them
    monkeypatch.delenv("GANWORKS_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    code = evaluate.main(["--checkpoint", str(out), "--data", "demo", "--num-fake", "4"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error:") and len(err.splitlines()) == 1 and "weights" in err.lower()


def test_metrics_every_logs_fid_and_kid_at_those_steps(tmp_path, capsys, feature_model):
    out = tmp_path / "run"
    assert run_train(out, "--epochs", "2", "--metrics-every", "2", "--metrics-fake", "16",
                     "--metrics-extractor", str(feature_model), "--log-every", "3") == 0
    printed = capsys.readouterr().out
    assert "step 2: FID" in printed and "step 4: FID" in printed and "16 generated images" in printed
    log = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [2, 3, 4]  # log-every 3, plus the metric steps 2 and 4
    assert [("fid16" in r, "kid16" in r) for r in log] == [(True, True), (False, False), (True, True)]
    assert log[0]["fid16"] > 0 and np.isfinite(log[2]["kid16"])
