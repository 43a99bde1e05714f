"""Paired evaluation: G(night) against the true day image, beside the untranslated floor and colour transfer."""

import json

import numpy as np
import pytest

from common.runtime.images import save_png
from night2day import evaluate as evaluate_cli
from night2day import train
from night2day.evaluation import color_transfer, evaluate, format_results, paired_files


def test_colour_transfer_moves_each_channels_mean_and_std_to_the_targets():
    rng = np.random.default_rng(0)
    images = rng.uniform(0.2, 0.4, (2, 16, 16, 3)).astype("float32")
    mean, std = np.array([0.5, 0.45, 0.4], "float32"), np.array([0.05, 0.06, 0.07], "float32")
    out = color_transfer(images, mean, std)
    np.testing.assert_allclose(out.mean(axis=(1, 2)), np.tile(mean, (2, 1)), atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(1, 2)), np.tile(std, (2, 1)), atol=1e-4)
    assert out.min() >= 0 and out.max() <= 1


def test_pairs_are_matched_by_file_name():
    night = ["/a/testA/000.png", "/a/testA/001.jpg", "/a/testA/only_night.png"]
    day = ["/a/testB/001.png", "/a/testB/000.png"]
    assert paired_files(night, day) == [("/a/testA/000.png", "/a/testB/000.png"),
                                        ("/a/testA/001.jpg", "/a/testB/001.png")]


@pytest.fixture(scope="module")
def paired_run(tmp_path_factory):
    """A tiny ResNet CycleGAN trained 2 steps on a set whose test night images are darkened test days."""
    root = tmp_path_factory.mktemp("paired")
    rng = np.random.default_rng(1)
    ramp = np.linspace(0, 1, 40)[None, :, None]
    for split, n in (("train", 6), ("test", 4)):
        for i in range(n):
            day = np.clip(0.5 + 0.4 * ramp * rng.uniform(0.5, 1.0, (1, 1, 3)) + rng.normal(0, 0.05, (40, 40, 3)), 0, 1)
            night = 0.25 * day  # the same scene, dark
            save_png(root / f"{split}B" / f"{i:03d}.png", (day * 255).astype(np.uint8))
            save_png(root / f"{split}A" / f"{i:03d}.png", (night * 255).astype(np.uint8))
    out = root / "run"
    assert train.main(["--model", "resnet", "--filters", "4", "--res-blocks", "1", "--image-size", "32",
                       "--data", str(root), "--out", str(out), "--epochs", "1", "--steps-per-epoch", "2",
                       "--batch-size", "2", "--wandb", "disabled"]) == 0
    return root, out


def test_evaluate_reports_the_paired_table_and_colour_transfer_beats_the_dark_floor(paired_run):
    root, out = paired_run
    results = evaluate(out, root, metrics=())
    paired = results["paired"]
    assert paired["pairs"] == 4 and paired["day_statistics_from"].endswith("trainB")
    for method in ("night (untranslated)", "colour transfer", "G(night)"):
        assert np.isfinite(paired[method]["psnr"]) and -1 <= paired[method]["ssim"] <= 1
    # a darkened copy is far from the day image; moving its colour statistics gets much closer
    assert paired["colour transfer"]["psnr"] > paired["night (untranslated)"]["psnr"] + 5
    table = format_results(results)
    assert "paired test images (4)" in table and "colour transfer" in table and "G(night)" in table


def test_evaluate_without_inception_weights_still_reports_everything_else(paired_run, tmp_path, capsys):
    root, out = paired_run
    target = tmp_path / "eval.json"
    code = evaluate_cli.main(["--checkpoint", str(out), "--data", str(root), "--json", str(target),
                              "--inception-weights", str(tmp_path / "missing.h5")])
    assert code == 0
    captured = capsys.readouterr()
    assert "fid,kid skipped" in captured.err and "--metrics ''" in captured.err
    results = json.loads(target.read_text())
    assert results["paired"]["pairs"] == 4 and "cycle_night_psnr" in results
    assert not any(k.startswith("day_vs_translated_fid") for k in results)
