"""python -m inpainting.fill: exporting the generator, keeping the photo's mode and alpha, one window per hole."""

import json

import keras
import numpy as np
import pytest
from PIL import Image

from inpainting import fill, inference
from inpainting.inference import Inpainter
from tests.inpainting.test_cli import run_train

STUB_CARD = {"model": "improved", "image_size": 32, "fill_value": 0.0, "mask": "random-block",
             "mask_options": {"min_side": 0.25, "max_side": 0.5}, "max_hole_fraction": 0.5}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny trained run (2 steps at 32 px), shared by the tests that need real weights."""
    out = tmp_path_factory.mktemp("fill") / "run"
    assert run_train(out, "improved", "--epochs", "1") == 0
    return out


def write_mask(tmp_path, height=40, width=56):
    """mask.png with one 12x13 px hole -> the hole, bool [H, W]."""
    mask = np.zeros((height, width), np.uint8)
    mask[10:22, 20:33] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    return mask > 127


def fill_file(checkpoint, photo, mask, out):
    assert fill.main(["--checkpoint", str(checkpoint), "--input", str(photo), "--mask", str(mask),
                      "--output", str(out)]) == 0
    return Image.open(out)


# ----------------------------------------------------------------------------- export (item 6)


def test_export_through_the_cli_fills_exactly_like_the_checkpoint(run, tmp_path, capsys):
    photo = np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    Image.fromarray(photo).save(tmp_path / "photo.png")
    write_mask(tmp_path)
    exported = tmp_path / "gen" / "generator.keras"
    (tmp_path / "gen").mkdir()
    assert fill.main(["--checkpoint", str(run), "--export", str(exported)]) == 0
    assert "exported to" in capsys.readouterr().out
    card = json.loads(exported.with_suffix(".json").read_text())
    assert card == Inpainter.load(run).card
    assert sorted(p.name for p in exported.parent.iterdir()) == ["generator.json", "generator.keras"]
    # a loaded .keras exports again (its card from its sidecar)
    again = tmp_path / "gen" / "again.keras"
    assert fill.main(["--checkpoint", str(exported), "--export", str(again)]) == 0
    assert json.loads(again.with_suffix(".json").read_text()) == card

    results = [np.asarray(fill_file(source, tmp_path / "photo.png", tmp_path / "mask.png", tmp_path / f"{i}.png"))
               for i, source in enumerate((run, exported, again))]
    assert not np.array_equal(results[0], photo)
    assert np.array_equal(results[0], results[1]) and np.array_equal(results[0], results[2])


def test_export_onto_an_existing_file_or_into_a_missing_folder_is_one_line(run, tmp_path, capsys):
    (tmp_path / "taken.keras").write_bytes(b"keep me")
    for target, message in ((tmp_path / "taken.keras", "already exists"),
                            (tmp_path / "nowhere" / "g.keras", "does not exist"),
                            (tmp_path / "g.h5", "must end in .keras")):
        with pytest.raises(SystemExit, match="2"):
            fill.main(["--checkpoint", str(run), "--export", str(target)])
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1
    assert (tmp_path / "taken.keras").read_bytes() == b"keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.keras"]


def stub_network():
    """A 32 px -> 16 px Keras model (saveable), enough to export."""
    return keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(3, 2, strides=2, name="conv")])


@pytest.mark.parametrize("failing_replace", [1, 2])
def test_a_failed_export_leaves_no_keras_file_without_its_sidecar(failing_replace, tmp_path, monkeypatch):
    real_replace, calls = inference.os.replace, []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == failing_replace:
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr(inference.os, "replace", replace)
    with pytest.raises(OSError, match="disk full"):
        Inpainter(stub_network(), STUB_CARD).export(tmp_path / "g.keras")
    assert list(tmp_path.iterdir()) == []  # neither the .keras, its sidecar nor a temporary file


def test_a_failed_save_leaves_nothing(tmp_path, monkeypatch):
    net = stub_network()

    def broken_save(path, *args, **kwargs):
        open(path, "wb").write(b"half a zip")
        raise RuntimeError("interrupted")

    monkeypatch.setattr(net, "save", broken_save)
    with pytest.raises(RuntimeError):
        Inpainter(net, STUB_CARD).export(tmp_path / "g.keras")
    assert list(tmp_path.iterdir()) == []
