"""watches.project, NVIDIA's StyleGAN2 projector, on a tiny generator built directly (random weights, no
training) with the random test feature model as its perceptual features: the loss falls, an image the
generator made is recovered (PSNR), the files it writes, and generate --projected-w drawing proj.png again."""

from __future__ import annotations

import contextlib
import io
import math

import keras
import numpy as np
import pytest

from common.data import load_image
from common.runtime import generator as gen
from common.runtime.images import LABEL_BAND, save_png, sheet_tile, to_uint8
from watches import generate, project, projection
from watches import stylegan2 as sg
from watches.sampling import seed_latents

SIZE, Z, W = 16, 16, 16
NUM_WS = sg.num_ws(SIZE)  # 6
STEPS = 200
NOISE_STRENGTH = 0.02  # with 0.1 the random-initialised noise is not recovered in 200 steps (23 dB)
# measured (seed 303, this generator, 200 steps, the random test feature model): PSNR 33.0 dB after the
# projection, 15.9 dB at the start (step 1: the average w); loss 15847 -> 0.0048 (first and last step; mostly
# the noise regulariser at first), dist 0.118 -> 0.00026 and mse 0.077 -> 0.0027 (means of the first and last
# 10 steps). Thresholds with margin:
PSNR_MIN, PSNR_START_MAX, LOSS_FALL = 28.0, 20.0, 20.0


def _psnr(a, b) -> float:
    return 10 * math.log10(255.0 ** 2 / max(float(np.mean((a.astype(np.float64) - b) ** 2)), 1e-12))


def _export(net, path, model):
    card = gen.GeneratorCard(task="watches", model=model, network="generator", value_range="tanh", image_size=SIZE,
                             latent_dim=Z)
    return gen.export(net, path, card)


@pytest.fixture(scope="module")
def projected(tmp_path_factory, feature_model):
    """A tiny StyleGAN2 (some noise strength in every layer, as a trained one has), the image it makes
    from seed 7's w with its constant noise as target.png, and one `python -m watches.project` run on it."""
    root = tmp_path_factory.mktemp("project")
    keras.utils.set_random_seed(1)
    mapping = sg.mapping_network(Z, W, 2)
    synthesis = sg.synthesis_network(SIZE, w_dim=W, channel_base=128, channel_max=16, noise_mode="const")
    generator = sg.generator(mapping, synthesis)
    for layer in synthesis.layers:  # toRGB weights scaled: images mostly within [-1, 1], as a trained G's
        if isinstance(layer, sg.ModulatedConv2D) and not layer.demodulate:
            layer.weight.assign(layer.weight * 0.4)
    for layer in projection.noise_layers(synthesis):
        layer.noise_strength.assign(NOISE_STRENGTH)
    w = np.asarray(mapping([seed_latents([7], Z), np.ones([1, 1], np.float32)]))
    target = to_uint8(synthesis(np.repeat(w[:, None], NUM_WS, axis=1)))[0]
    path = _export(generator, root / "sg2" / "generator.keras", "stylegan2")
    save_png(root / "target_in.png", target)
    printed, errors = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(errors):
        code = project.main(["--checkpoint", str(path), "--target", str(root / "target_in.png"), "--out",
                             str(root / "proj"), "--steps", str(STEPS), "--extractor", str(feature_model)])
    return {"root": root, "out": root / "proj", "generator": path, "target": target, "code": code,
            "printed": printed.getvalue(), "progress": errors.getvalue()}


def test_projecting_a_generated_image_recovers_it_as_the_loss_falls(projected):
    assert projected["code"] == 0
    out = projected["out"]
    image = lambda name: np.asarray(load_image(str(out / name)))  # noqa: E731
    assert np.array_equal(image("target.png"), projected["target"])  # fed as given: already the generator's size
    with np.load(out / "projected_w.npz") as data:
        saved = {k: data[k] for k in data.files}
    loss = saved["loss"]
    assert loss.shape == (STEPS,) and np.all(np.isfinite(loss))
    assert loss[:10].mean() > LOSS_FALL * loss[-10:].mean()
    # not only the noise regulariser (most of the first steps' loss): the distances to the target fall too
    assert saved["dist"][:10].mean() > LOSS_FALL * saved["dist"][-10:].mean()
    assert saved["mse"][:10].mean() > 10 * saved["mse"][-10:].mean()
    psnr = _psnr(image("proj.png"), projected["target"])
    assert psnr > PSNR_MIN, f"self-projection PSNR {psnr:.2f} dB"
    # w as NVIDIA's file holds it: one image's [num_ws, w_dim], the same w in every layer
    assert saved["w"].shape == (1, NUM_WS, W) and np.allclose(saved["w"][0], saved["w"][0, :1])
    # every noise layer's image (2 per block from 8 px, 1 at 4 px), renormalised to mean 0, variance 1
    noise = {k: v for k, v in saved.items() if k.startswith("noise_")}
    assert sorted(noise) == ["noise_b16_conv0", "noise_b16_conv1", "noise_b4_conv1", "noise_b8_conv0",
                             "noise_b8_conv1"]
    for key, value in noise.items():
        res = int(key.split("_")[1][1:])
        assert value.shape == (res, res) and abs(value.mean()) < 1e-4 and abs(value.std() - 1) < 1e-3
    # progress.png: target then 8 snapshots, each 16 px shown at the sheet tile with a caption band under it
    strip = image("progress.png")
    tile = sheet_tile(SIZE)
    assert strip.shape == (tile + LABEL_BAND + 4, 9 * (tile + 2) + 2, 3)
    start = strip[2:2 + tile, tile + 4:2 * tile + 4]  # after step 1 (learning rate 0): the average w's image
    last = strip[2:2 + tile, 8 * (tile + 2) + 2:9 * (tile + 2)]  # after the last step: proj.png
    assert np.array_equal(last[::tile // SIZE, ::tile // SIZE], image("proj.png"))
    assert _psnr(start[::tile // SIZE, ::tile // SIZE], projected["target"]) < PSNR_START_MAX
    assert (out / "proj.mp4").exists() == (projection.video_writer_available() is None)
    # the progress line (the file form: printed at the end at least), then the summary
    assert f"project: [####################] {STEPS}/{STEPS}" in projected["progress"]
    assert "dist " in projected["progress"] and " mse " in projected["progress"]
    lines = projected["printed"].splitlines()
    assert lines[0].startswith(f"projecting {projected['root'] / 'target_in.png'} (16 px)")
    assert f"{STEPS} steps, features keras-model-" in lines[0]
    assert lines[-2].startswith(f"loss {loss[0]:.4f} -> {loss[-1]:.4f}; proj.png PSNR {psnr:.2f} dB")
    assert lines[-1].startswith("wrote target.png, proj.png, projected_w.npz, progress.png")


def test_generate_projected_w_draws_proj_png_again_and_style_mixes_it(projected, capsys):
    out, gen_out = projected["out"], projected["root"] / "gen"
    assert generate.main(["--checkpoint", str(projected["generator"]), "--projected-w", str(out / "projected_w.npz"),
                          "--style-mix", ":1,2", "--out", str(gen_out)]) == 0
    assert sorted(p.name for p in gen_out.iterdir()) == ["proj00.png", "style_mixing.png"]
    proj = np.asarray(load_image(str(out / "proj.png")))
    again = np.asarray(load_image(str(gen_out / "proj00.png")))
    assert np.abs(again.astype(int) - proj).max() <= 1 and np.mean(again != proj) < 0.01
    # the sheet: the column seeds' row, then the projection's row (its image first, at the sheet tile)
    mix = np.asarray(load_image(str(gen_out / "style_mixing.png")))
    tile = sheet_tile(SIZE)
    assert mix.shape[0] == 2 * LABEL_BAND + 2 * (tile + 2) + 2
    left = mix.shape[1] - (3 * (tile + 2) + 2)
    shown_proj = mix[2 * LABEL_BAND + tile + 4:2 * LABEL_BAND + 2 * tile + 4, left + 2:left + 2 + tile]
    assert _psnr(shown_proj[::tile // SIZE, ::tile // SIZE], proj) > 40


def test_schedules_and_the_noise_regulariser_are_nvidias():
    schedule = projection.ProjectorSchedule(0.1, 1000, 0.05, 0.25)

    def nvidia(step, n=1000):  # projector.py's lines
        t = step / n
        ramp = 0.5 - 0.5 * np.cos(min(1.0, (1.0 - t) / 0.25) * np.pi)
        return 0.1 * ramp * min(1.0, t / 0.05)

    for step in (0, 10, 50, 400, 800, 999):
        assert float(schedule(step)) == pytest.approx(nvidia(step), abs=1e-7)
    assert projection.w_noise_scale(0, 1000, 2.0) == pytest.approx(0.1)
    assert projection.w_noise_scale(375, 1000, 2.0) == pytest.approx(0.025)
    assert projection.w_noise_scale(750, 1000, 2.0) == 0.0
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((16, 16)).astype(np.float32)
    expected, x = 0.0, noise.astype(np.float64)
    while True:
        expected += np.mean(x * np.roll(x, 1, axis=1)) ** 2 + np.mean(x * np.roll(x, 1, axis=0)) ** 2
        if x.shape[0] <= 8:
            break
        x = x.reshape(x.shape[0] // 2, 2, x.shape[1] // 2, 2).mean(axis=(1, 3))
    assert float(projection.noise_regularization([noise])) == pytest.approx(expected, rel=1e-4)
    smooth = np.ones((16, 16), np.float32)  # fully correlated: 2 per scale, 2 scales
    assert float(projection.noise_regularization([smooth])) == pytest.approx(4.0)
    wide = np.arange(20 * 30 * 3, dtype=np.uint8).reshape(20, 30, 3)
    assert projection.square_crop(wide, 20).tolist() == wide[:, 5:25].tolist()
    assert projection.square_crop(wide, 16).shape == (16, 16, 3)


def test_bad_input_is_one_line(projected, tmp_path, capsys):
    target = str(projected["root"] / "target_in.png")
    with pytest.raises(SystemExit) as exc:
        project.main(["--checkpoint", str(projected["generator"]), "--target", str(tmp_path / "none.png"),
                      "--out", str(tmp_path / "o")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err == f"python -m watches.project: error: --target not found: {tmp_path / 'none.png'}"
    from watches.models import dcgan_generator

    dcgan = _export(dcgan_generator(SIZE, Z, 4), tmp_path / "dcgan" / "generator.keras", "dcgan")
    assert project.main(["--checkpoint", str(dcgan), "--target", target, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is a dcgan generator; projection needs a StyleGAN2 one" in err[0]
    (tmp_path / "bad.npz").write_bytes(b"not an npz")
    assert generate.main(["--checkpoint", str(projected["generator"]), "--projected-w", str(tmp_path / "bad.npz"),
                          "--out", str(tmp_path / "g")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot be read as an .npz file" in err[0]
    np.savez(tmp_path / "other.npz", w=np.zeros([1, 4, 8], np.float32))
    assert generate.main(["--checkpoint", str(projected["generator"]), "--projected-w", str(tmp_path / "other.npz"),
                          "--out", str(tmp_path / "g")]) == 2
    assert "w has shape (1, 4, 8), this generator takes [N, 6, 16]" in capsys.readouterr().err
