"""inpainting end to end through its command-line modules, on the built-in demo data at tiny size."""

import json

import numpy as np
import pytest

from common.data import load_image
from inpainting.demo import demo_dataset
from common.runtime import checkpoint as ckpt
from common.runtime.images import save_png
from inpainting import evaluate, evaluation, fill, train
from inpainting.inference import Inpainter

TINY = {
    "improved": ["--model", "improved"],
    "context-encoder": ["--model", "context-encoder"],
}


def run_train(out, model, *extra):
    return train.main([*TINY[model], "--filters", "4", "--bottleneck", "16", "--data", "demo", "--image-size", "32",
                       "--out", str(out), "--steps-per-epoch", "2", "--checkpoint-every", "3", "--sample-every", "2",
                       "--wandb", "disabled", "--batch-size", "2", *extra])


def weights(run):
    return Inpainter.load(run).generator.get_weights()


@pytest.mark.parametrize("model", ["improved", "context-encoder"])
def test_train_resume_fill_evaluate(model, tmp_path, capsys, feature_extractor):
    out = tmp_path / "run"
    assert run_train(out, model, "--epochs", "2") == 0
    assert ckpt.read_state(ckpt.CheckpointManager(out / "checkpoints").latest())["step"] == 4
    card = json.loads((out / "export" / "generator.json").read_text())
    assert card["task"] == "inpainting" and card["model"] == model and card["step"] == 4
    holes = card["holes"]
    assert card["image_size"] == 32 and holes["mask"] == ("random-block" if model == "improved" else "centre")
    assert holes["overlap"] == 1  # both presets predict the band around the hole: image size / 32
    if model == "context-encoder":  # the fill value is the training images' mean colour, in [-1, 1]
        assert len(holes["fill_value"]) == 3 and all(-1 < v < 1 for v in holes["fill_value"])
    log = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    for key in ("d_real", "d_fake", "g_adv", "g_recon", "g_total", "d_x", "d_g_z1", "d_g_z2"):
        assert np.isfinite(log[-1][key])
    assert 0 < log[-1]["d_x"] < 1
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["step_000000002.png", "step_000000004.png"]

    assert run_train(out, model, "--epochs", "3") == 0
    assert "at step 4/6" in capsys.readouterr().out
    assert [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()] == list(range(1, 7))

    # fill a non-square photo larger than the model: only the hole changes
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (50, 71, 3), dtype=np.uint8)
    mask = np.zeros((50, 71, 3), np.uint8)
    mask[20:31, 40:52] = 255
    save_png(tmp_path / "photo.png", photo)
    save_png(tmp_path / "mask.png", mask)
    assert fill.main(["--checkpoint", str(out), "--input", str(tmp_path / "photo.png"),
                      "--mask", str(tmp_path / "mask.png"), "--out", str(tmp_path / "filled.png")]) == 0
    filled = np.asarray(load_image(str(tmp_path / "filled.png")))
    known = mask[..., 0] == 0
    assert filled.shape == photo.shape and np.array_equal(filled[known], photo[known])
    assert not np.array_equal(filled[~known], photo[~known])

    results, sheet = evaluation.evaluate(Inpainter.load(out), evaluation.test_images(demo_dataset(), 6),
                                       batch_size=4, feature_extractor=feature_extractor,
                                       metrics=["fid", "kid"])
    assert results["images"] == 6 and set(results["methods"]) == {"model", "telea", "ns"}
    for scores in results["methods"].values():
        assert 0 < scores["psnr_hole"] < scores["psnr_full"] < 100
        assert -1 <= scores["ssim_hole"] <= scores["ssim_full"] <= 1
        assert any(k.startswith("fid") for k in scores)
    assert sheet.ndim == 3 and sheet.shape[1] > 5 * 32


def test_evaluate_cli_prints_model_telea_and_ns_and_writes_json_and_sheet(tmp_path, capsys):
    out = tmp_path / "run"
    assert run_train(out, "improved", "--epochs", "1") == 0
    assert "not evaluated yet" in (out / "report.html").read_text()
    assert evaluate.main(["--checkpoint", str(out), "--data", "demo", "--max-images", "4", "--mask", "centre",
                          "--metrics", "", "--perceptual", "off", "--batch-size", "4"]) == 0
    printed = capsys.readouterr().out
    assert "PSNR hole" in printed and "PSNR full" in printed
    results = json.loads((out / "evaluation.json").read_text())
    assert results["mask"] == "centre" and set(results["methods"]) == {"model", "telea", "ns"}
    assert (out / "evaluation.png").stat().st_size > 1000
    # the run's report.html is rewritten with the evaluation: the methods table and the comparison sheet
    report = (out / "report.html").read_text()
    assert "not evaluated yet" not in report and "<th>methods</th>" in report and "<td>telea</td>" in report
    assert 'alt="evaluation sheet"' in report


def test_fill_a_folder_with_same_named_masks_and_drawn_masks(tmp_path, capsys):
    out = tmp_path / "run"
    assert run_train(out, "improved", "--epochs", "1", "--mixed-precision", "true") == 0  # bfloat16 on a CPU
    assert json.loads((out / "config.json").read_text())["mixed_precision"] is True
    rng = np.random.default_rng(1)
    (tmp_path / "photos").mkdir()
    (tmp_path / "masks").mkdir()
    for name, shape in (("a", (40, 40, 3)), ("b", (30, 90, 3))):
        save_png(tmp_path / "photos" / f"{name}.png", rng.integers(0, 256, shape, dtype=np.uint8))
        mask = np.zeros(shape, np.uint8)
        mask[5:25, 10:28] = 255  # wider than 0.5 x 32 px: the photo is scaled down to fill it
        save_png(tmp_path / "masks" / f"{name}.png", mask)
    (tmp_path / "photos" / "broken.jpg").write_bytes(b"not a jpeg")
    code = fill.main(["--checkpoint", str(out), "--input", str(tmp_path / "photos"), "--mask",
                      str(tmp_path / "masks"), "--out", str(tmp_path / "filled")])
    captured = capsys.readouterr()
    assert code == 0 and "scaled by" in captured.out and "broken.jpg" in captured.err
    assert sorted(p.name for p in (tmp_path / "filled").iterdir()) == ["a.png", "b.png"]
    for kind in ("centre", "random", "free-form"):
        assert fill.main(["--checkpoint", str(out / "export" / "generator.keras"), "--input",
                          str(tmp_path / "photos" / "b.png"), "--mask", kind, "--out",
                          str(tmp_path / f"{kind}.png")]) == 0
        drawn = np.asarray(load_image(str(tmp_path / f"{kind}_mask.png")))[..., 0] > 127
        result = np.asarray(load_image(str(tmp_path / f"{kind}.png")))
        photo = np.asarray(load_image(str(tmp_path / "photos" / "b.png")))
        assert drawn.any() and np.array_equal(result[~drawn], photo[~drawn])


def test_fill_errors_are_one_line(tmp_path, capsys):
    save_png(tmp_path / "x.png", np.zeros((8, 8, 3), np.uint8))
    assert fill.main(["--checkpoint", str(tmp_path), "--input", str(tmp_path / "x.png"), "--mask", "centre"]) == 2
    assert "no checkpoint found" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="2"):
        fill.main(["--checkpoint", str(tmp_path), "--input", str(tmp_path / "x.png")])
    assert "--mask is required" in capsys.readouterr().err
