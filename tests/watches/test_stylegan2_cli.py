"""StyleGAN2-ADA end to end through the command-line modules on the demo data at tiny size: training,
a SIGKILL mid-run resumed to exactly the uninterrupted run (networks, EMA, optimizers, image counter,
ADA p, path-length mean), generation (truncation, noise modes, style mixing, w interpolation), evaluation."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from common.data import load_image
from common.runtime import checkpoint as ckpt
from common.runtime.images import LABEL_BAND
from watches import generate, train
from watches.build import build_gan

REPO = Path(__file__).resolve().parents[2]
TINY = ["--model", "stylegan2", "--data", "demo", "--image-size", "16", "--batch-size", "4", "--latent-dim", "16",
        "--w-dim", "16", "--channel-base", "128", "--channel-max", "16", "--steps-per-epoch", "4",
        "--sample-every", "100", "--wandb", "disabled", "--deterministic", "true", "--augment-p", "0.2",
        "--augment-target", "0.3"]


def run_train(out, *extra):
    return train.main([*TINY, "--out", str(out), *extra])


def restored(run, checkpoint=None):
    path = checkpoint or ckpt.CheckpointManager(Path(run) / "checkpoints").latest()
    model = build_gan(ckpt.read_state(path)["config"])
    ckpt.restore(model, path)
    return model


def state_of(model) -> dict:
    return {"nimg": int(model.nimg.numpy()), "augment_p": float(model.augment_p.numpy()),
            "pl_mean": float(model.pl_mean.numpy()), "steps": int(model.global_step.numpy()),
            "ada_signs": float(model.ada_sign_sum.numpy())}


def read_log(run):
    return [json.loads(line) for line in (Path(run) / "metrics.jsonl").read_text().splitlines()]


def test_train_logs_kimg_losses_regularisers_and_ada_then_exports_a_z_psi_generator(tmp_path, capsys,
                                                                                     feature_model):
    out = tmp_path / "run"
    assert run_train(out, "--epochs", "2", "--checkpoint-every", "4", "--metrics-every", "8", "--metrics-fake", "8",
                     "--metrics-extractor", str(feature_model)) == 0
    log = read_log(out)
    assert [r["step"] for r in log] == list(range(1, 9))
    assert "fid8" in log[-1] and log[-1]["fid8"] > 0 and "fid8" not in log[0]  # FID of the EMA generator
    assert [r["kimg"] for r in log] == pytest.approx([0.004 * s for s in range(1, 9)])
    for key in ("g_loss", "d_loss", "pl_mean", "d_real", "d_fake", "augment_p", "rt"):
        assert np.isfinite(log[-1][key]), key
    # the regularisers are logged where they ran: path length every 4th step, R1 every 16th (log steps count from 1)
    assert [r["step"] for r in log if "pl" in r] == [1, 5] and [r["step"] for r in log if "r1" in r] == [1]
    assert log[0]["r1"] > 0 and log[0]["pl"] > 0 and log[4]["pl"] > 0
    assert log[-1]["augment_p"] != 0.2  # ADA moved p (every 4 steps)
    generator = keras.saving.load_model(out / "export" / "generator.keras")
    assert [tuple(i.shape) for i in generator.inputs] == [(None, 16), (None, 1)]
    assert generator.output_shape == (None, 16, 16, 3)
    printed = capsys.readouterr().out
    assert "augment_p=" in printed and "step 8: FID" in printed


def _spawn(out, *extra):
    cmd = [sys.executable, "-m", "watches.train", *TINY, "--out", str(out), *extra]
    return subprocess.Popen(cmd, cwd=REPO, env={**os.environ, "WANDB_MODE": "disabled"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_a_run_killed_mid_epoch_resumes_to_exactly_the_uninterrupted_run(tmp_path):
    args = ("--epochs", "4", "--checkpoint-every", "3", "--keep-checkpoints", "10")
    assert run_train(tmp_path / "full", *args) == 0
    cut = tmp_path / "cut"
    proc = _spawn(cut, *args)
    root = cut / "checkpoints"
    end = time.monotonic() + 240
    while time.monotonic() < end and not (root / "latest").exists() and proc.poll() is None:
        time.sleep(0.05)
    proc.kill()  # SIGKILL, after its first checkpoint (step 3: the middle of epoch 1)
    output = proc.communicate()[0]
    assert (root / "latest").exists(), output
    before = ckpt.CheckpointManager(root).latest()
    kill_step = ckpt.read_state(before)["step"]
    assert kill_step < 16 and kill_step % 4 != 0  # resumed from inside an epoch
    at_kill = state_of(restored(cut, before))
    assert at_kill["nimg"] == 4 * kill_step and at_kill["steps"] == kill_step
    assert at_kill["augment_p"] != 0.2

    assert run_train(cut, *args) == 0
    log = read_log(cut)
    first = next(r for r in log if r["step"] == kill_step + 1)
    assert first["kimg"] == pytest.approx((at_kill["nimg"] + 4) / 1000)  # the image counter went on
    full_model, cut_model = restored(tmp_path / "full"), restored(cut)
    assert state_of(cut_model) == pytest.approx(state_of(full_model), abs=1e-7)
    assert state_of(cut_model)["nimg"] == 64
    for name in ("mapping", "synthesis", "discriminator", "mapping_ema", "synthesis_ema"):
        for a, b in zip(full_model.networks[name].weights, cut_model.networks[name].weights):
            a, b = np.asarray(a), np.asarray(b)  # w_avg and the noise images included
            np.testing.assert_allclose(a, b, atol=1e-6, rtol=0, err_msg=f"{name} {a.shape} max diff {np.abs(a - b).max()}")
    for a, b in zip(full_model.optimizers["g"].variables, cut_model.optimizers["g"].variables):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6, rtol=0)
    full_log = {r["step"]: r for r in read_log(tmp_path / "full")}
    for r in log:
        if r["step"] > kill_step:
            assert r == pytest.approx(full_log[r["step"]], abs=1e-6)


def test_generate_truncation_noise_modes_style_mixing_and_w_interpolation(tmp_path, capsys):
    out = tmp_path / "run"
    assert run_train(out, "--epochs", "1", "--checkpoint-every", "4") == 0
    assert generate.main(["--checkpoint", str(out), "--seeds", "0-3", "--out", str(tmp_path / "a"), "--grid",
                          "--interpolate", "1,2", "--steps", "4", "--style-mix", "0,1:2,3,4",
                          "--styles", "middle"]) == 0
    assert generate.main(["--checkpoint", str(out / "export" / "generator.keras"), "--seeds", "2,3",
                          "--out", str(tmp_path / "b")]) == 0
    a = sorted(str(p.relative_to(tmp_path / "a")) for p in (tmp_path / "a").rglob("*.png"))
    assert a == ["grid.png", "interpolation_1_2.png", *(f"seeds/seed000{s}.png" for s in range(4)),
                 "style_mixing.png"]
    image = lambda d, name: np.asarray(load_image(str(tmp_path / d / name)))  # noqa: E731
    assert np.array_equal(image("a", "seeds/seed0003.png"), image("b", "seeds/seed0003.png"))  # checkpoint = export
    # 3 rows (the column seeds, then 2 row seeds) by 4 columns (the row seeds, then 3 column seeds) of 16-px
    # images enlarged to 128 px, under a title band and a band of column seeds, beside a band of row seeds
    mix = image("a", "style_mixing.png")
    left = mix.shape[1] - (4 * (128 + 2) + 2)
    assert mix.shape[0] == 2 * LABEL_BAND + 3 * (128 + 2) + 2 and 0 < left <= 2 * 128
    row_band = mix[2 * LABEL_BAND + 130:2 * LABEL_BAND + 258, :left]  # beside the first row seed's image
    assert row_band.min() < 100 and row_band.max() == 255  # its seed, dark on white
    # only what is asked for: style mixing alone writes style_mixing.png and nothing else; the truncation
    # sheet is a row per seed (labelled) by a column per psi (labelled), psi 0 the same average watch in each row
    assert generate.main(["--checkpoint", str(out), "--style-mix", "0:1", "--out", str(tmp_path / "m")]) == 0
    assert [p.name for p in (tmp_path / "m").rglob("*")] == ["style_mixing.png"]
    assert generate.main(["--checkpoint", str(out), "--truncation-grid", "1,0.5,0", "--out", str(tmp_path / "t")]) == 0
    assert [p.name for p in (tmp_path / "t").rglob("*")] == ["truncation.png"]
    sheet = image("t", "truncation.png")
    left = sheet.shape[1] - (3 * 130 + 2)
    assert sheet.shape[0] == LABEL_BAND + 4 * 130 + 2 and 0 < left <= 256  # seeds 0-3 by default
    average = [sheet[LABEL_BAND + 2 + r * 130:LABEL_BAND + 130 + r * 130, left + 262:left + 390] for r in range(4)]
    assert all(np.array_equal(average[0], a) for a in average[1:])
    assert not np.array_equal(sheet[LABEL_BAND + 2:LABEL_BAND + 130, left + 2:left + 130],
                              sheet[LABEL_BAND + 132:LABEL_BAND + 260, left + 2:left + 130])  # psi 1: two seeds
    # psi 0: every seed gives the average watch
    assert generate.main(["--checkpoint", str(out), "--seeds", "0,1", "--truncation", "0",
                          "--out", str(tmp_path / "avg")]) == 0
    assert np.array_equal(image("avg", "seeds/seed0000.png"), image("avg", "seeds/seed0001.png"))
    assert not np.array_equal(image("a", "seeds/seed0000.png"), image("a", "seeds/seed0001.png"))
    # random noise: the same seed differs between calls only in the noise
    assert generate.main(["--checkpoint", str(out), "--seeds", "0", "--noise-mode", "none",
                          "--out", str(tmp_path / "none")]) == 0
    assert image("none", "seeds/seed0000.png").shape == (16, 16, 3)
    with pytest.raises(SystemExit, match="2"):
        generate.main(["--checkpoint", str(out), "--style-mix", "0,1", "--out", str(tmp_path / "c")])
    assert "ROWS:COLUMNS" in capsys.readouterr().err


def test_evaluate_scores_the_stylegan2_generator_with_the_test_extractor(tmp_path, feature_extractor):
    from watches.demo import demo_dataset
    from watches.evaluation import evaluate_generator
    from watches.inference import load_generator

    out = tmp_path / "run"
    assert run_train(out, "--epochs", "1", "--checkpoint-every", "4") == 0
    generator, latent_dim = load_generator(out)
    assert latent_dim == 16
    result = evaluate_generator(generator, latent_dim, demo_dataset(), extractor=feature_extractor,
                                num_fake=16, cache_dir=False, metrics=("fid", "kid"))
    assert result["n_fake"] == 16 and result["fid"] > 0 and np.isfinite(result["kid"])


@pytest.mark.parametrize("argv, message", [
    (["--label-flip", "0.1"], "--label-flip applies to --model dcgan only, not stylegan2"),
    (["--batch-size", "6"], "--batch-size 6 must be a multiple of the minibatch-std group 4"),
    (["--augment-target", "1.5"], "--augment-target 1.5 must be in [0, 1]"),
    (["--augment", "cutmix"], "invalid choice: 'cutmix'"),
])
def test_bad_stylegan2_settings_are_one_line_errors(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        run_train(tmp_path / "run", *argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_dcgan_refuses_stylegan2_only_options(tmp_path, capsys):
    with pytest.raises(SystemExit):
        train.main(["--data", "demo", "--r1-gamma", "1", "--out", str(tmp_path / "r")])
    assert "--r1-gamma applies to --model stylegan2 only, not dcgan" in capsys.readouterr().err
