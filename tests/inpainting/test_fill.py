"""python -m inpainting.fill: exporting the generator, keeping the photo's mode and alpha, one window per hole."""

import dataclasses
import json

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from inpainting import fill
from common.runtime.generator import GeneratorCard
from inpainting.holes import crop_holes, region_boxes
from inpainting.inference import Inpainter
from tests.inpainting.test_cli import run_train

STUB_CARD = GeneratorCard(task="inpainting", model="improved", network="generator", value_range="tanh",
                          image_size=32, holes={"fill_value": 0.0, "mask": "random-block",
                                                "mask_options": {"min_side": 0.25, "max_side": 0.5},
                                                "max_hole_fraction": 0.5})


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
                      "--out", str(out)]) == 0
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
    assert GeneratorCard(**card) == Inpainter.load(run).card
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


# ----------------------------------------------------------------------------- image modes (item 7)


def gradient_alpha(height, width):
    return (np.linspace(0, 255, width)[None, :] * np.ones((height, 1))).round().astype(np.uint8)


def mode_photo(mode, rng, height=40, width=56):
    rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    if mode == "L":
        return Image.fromarray(rgb[..., 0])
    if mode == "LA":
        return Image.fromarray(np.dstack([rgb[..., 0], gradient_alpha(height, width)]), "LA")
    if mode == "RGBA":
        return Image.fromarray(np.dstack([rgb, gradient_alpha(height, width)]))
    if mode == "P":
        return Image.fromarray(rgb).quantize(64)
    if mode == "I;16":
        return Image.fromarray(rng.integers(0, 65536, (height, width), dtype=np.uint16))
    return Image.fromarray(rgb)


# (input mode, file name, the output's mode); P is written as RGB (RGBA when its palette has transparency)
MODES = [("L", "photo.png", "L"), ("LA", "photo.png", "LA"), ("RGB", "photo.png", "RGB"),
         ("RGBA", "photo.png", "RGBA"), ("P", "photo.png", "RGB"), ("P", "photo.gif", "RGB"),
         ("I;16", "photo.png", "I;16"), ("RGB", "photo.jpg", "RGB")]


@pytest.mark.parametrize("mode, name, out_mode", MODES)
def test_fill_keeps_the_photos_mode_and_every_pixel_and_alpha_outside_the_hole(mode, name, out_mode, run,
                                                                               tmp_path, capsys):
    rng = np.random.default_rng(3)
    mode_photo(mode, rng).save(tmp_path / name)
    hole = write_mask(tmp_path)
    result = fill_file(run, tmp_path / name, tmp_path / "mask.png", tmp_path / "out.png")
    # Pillow before 11 opens a 16-bit grey PNG as mode I (32-bit), the input and the output alike
    assert result.format == "PNG" and (result.mode == out_mode or (out_mode, result.mode) == ("I;16", "I"))
    source = Image.open(tmp_path / name)
    if source.mode == "P":
        source = source.convert("RGB")
    before, after = np.asarray(source), np.asarray(result)
    assert after.shape == before.shape and after.dtype == before.dtype
    assert np.array_equal(after[~hole], before[~hole])  # Pillow's decode of the input, bit for bit
    if mode in ("LA", "RGBA"):
        assert np.array_equal(after[..., -1], before[..., -1])  # the alpha everywhere, inside the hole too
    assert not np.array_equal(after[hole], before[hole])  # the hole was filled
    printed = capsys.readouterr().out
    assert ("Pillow" in printed) == (name.endswith(".jpg"))


def test_a_palette_with_transparency_is_written_as_rgba(run, tmp_path):
    rng = np.random.default_rng(4)
    image = Image.fromarray(rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)).quantize(16)
    image.info["transparency"] = 0
    image.save(tmp_path / "photo.png", transparency=0)
    hole = write_mask(tmp_path)
    result = fill_file(run, tmp_path / "photo.png", tmp_path / "mask.png", tmp_path / "out.png")
    before = np.asarray(Image.open(tmp_path / "photo.png").convert("RGBA"))
    after = np.asarray(result)
    assert result.mode == "RGBA" and np.array_equal(after[~hole], before[~hole])
    assert np.array_equal(after[..., 3], before[..., 3])


# ----------------------------------------------------------------------------- one window per hole (item 9)


class ConstantGenerator:
    """Predicts the same value everywhere; records each window it is shown."""

    def __init__(self, value=0.2, content=16):
        self.value, self.content, self.windows = value, content, []

    def __call__(self, x, training=False):
        self.windows.append(np.asarray(x)[0])
        return np.full((1, self.content, self.content, 3), self.value, np.float32)


def test_two_small_holes_far_apart_are_each_filled_at_the_photos_resolution():
    rng = np.random.default_rng(6)
    photo = rng.integers(0, 256, (200, 300, 3), dtype=np.uint8)
    hole = np.zeros((200, 300), bool)
    hole[20:30, 20:34] = True  # 140 px
    hole[150:161, 250:262] = True  # 132 px: the two together span 141x242, far beyond the 16 px holes
    generator = ConstantGenerator()
    filled = Inpainter(generator, STUB_CARD).fill(photo, hole)
    assert filled.note is None  # nothing was scaled
    assert np.array_equal(filled.image[~hole], photo[~hole])
    assert np.all(filled.image[hole] == round((0.2 + 1) * 127.5))
    # one 32 px window per hole, each showing its whole hole at full size as the fill value (0)
    assert len(generator.windows) == 2
    assert sorted(int((w == 0).all(-1).sum()) for w in generator.windows) == [132, 140]


def test_only_the_hole_too_large_for_the_model_is_scaled():
    rng = np.random.default_rng(7)
    photo = rng.integers(0, 256, (120, 200, 3), dtype=np.uint8)
    hole = np.zeros((120, 200), bool)
    hole[10:50, 10:50] = True  # 40 px: larger than the model's 16 px holes
    hole[90:100, 170:180] = True  # 10 px, far away
    generator = ConstantGenerator()
    filled = Inpainter(generator, STUB_CARD).fill(photo, hole)
    assert filled.note.count("scaled by") == 1 and "40x40" in filled.note
    assert np.array_equal(filled.image[~hole], photo[~hole])
    assert len(generator.windows) == 2
    assert 100 in [int((w == 0).all(-1).sum()) for w in generator.windows]  # the small one at full size


def test_holes_that_fit_one_window_together_share_it():
    photo = np.random.default_rng(8).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    hole = np.zeros((64, 64), bool)
    hole[10:14, 10:14] = True
    hole[18:22, 20:24] = True  # the two span 12x14 px: one window, no scaling
    generator = ConstantGenerator()
    filled = Inpainter(generator, STUB_CARD).fill(photo, hole)
    assert filled.note is None and len(generator.windows) == 1
    assert int((generator.windows[0] == 0).all(-1).sum()) == 32


def test_a_window_shows_earlier_holes_filled_and_later_ones_telea_filled_never_their_pixels():
    photo = np.random.default_rng(9).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    hole = np.zeros((64, 64), bool)
    hole[4:14, 4:14] = True
    hole[4:14, 24:34] = True  # together 10x30 px, beyond the 16 px holes: two windows, each reaching the other
    generator = ConstantGenerator()
    Inpainter(generator, STUB_CARD).fill(photo, hole)
    first, second = ((w + 1.0) * 127.5 for w in generator.windows)  # both 32 px, cut at x = 0 and x = 12
    assert [int((w == 127.5).all(-1).sum()) for w in (first, second)] == [100, 100]  # the fill value: own hole
    later = first[4:14, 24:32]  # the second hole, not filled yet: OpenCV's Telea, not the photo's pixels
    assert not np.any(np.all(np.abs(later - photo[4:14, 24:32]) < 0.5, axis=-1))
    np.testing.assert_allclose(second[4:14, 0:2], round(1.2 * 127.5), atol=1e-3)  # the first, as filled


def test_fill_pastes_the_hole_from_the_region_the_generator_predicts_around_it():
    # an oracle that predicts what training asks for: the box of the hole grown by the card's overlap
    ys, xs = np.meshgrid(np.arange(32), np.arange(32), indexing="ij")
    photo = np.stack([4 * ys, 4 * xs, 2 * (ys + xs)], -1).astype(np.uint8)  # ramps: resampled exactly
    hole = np.zeros((32, 32), bool)
    hole[5:15, 9:23] = True  # grown by 2: the 14 x 18 box 3..16 x 7..24
    window_masks = tf.constant(hole[None, ..., None], tf.float32)
    target = crop_holes(tf.constant(photo[None], tf.float32) / 127.5 - 1.0, region_boxes(window_masks, 2), 16)
    card = dataclasses.replace(STUB_CARD, holes={**STUB_CARD.holes, "overlap": 2})
    filled = Inpainter(lambda x, training=False: target, card).fill(photo, hole)
    np.testing.assert_allclose(filled.image.astype(int), photo.astype(int), atol=1)
    # read as the content of the hole's own box (a card without overlap), the same prediction is off
    shifted = Inpainter(lambda x, training=False: target, STUB_CARD).fill(photo, hole)
    assert np.abs(shifted.image.astype(int) - photo)[hole].max() > 4


def test_a_card_with_hole_context_shows_the_generator_the_window_around_its_hole():
    photo = np.random.default_rng(10).integers(1, 256, (64, 64, 3), dtype=np.uint8)
    hole = np.zeros((64, 64), bool)
    hole[20:28, 30:38] = True  # 8 px: the generator sees the 16 px around it, stretched to its 32 px input
    seen = {}
    for context in ("image", "hole"):
        generator = ConstantGenerator()
        card = dataclasses.replace(STUB_CARD, holes={**STUB_CARD.holes, "context": context})
        filled = Inpainter(generator, card).fill(photo, hole)
        assert np.array_equal(filled.image[~hole], photo[~hole])
        (window,) = generator.windows
        rows, cols = (np.flatnonzero(np.all(window == 0, axis=-1).any(axis)) for axis in (1, 0))
        seen[context] = (rows[0], rows[-1], cols[0], cols[-1])
    assert np.subtract(seen["image"][1::2], seen["image"][::2]).tolist() == [7, 7]  # the 8 px hole as it is
    top, bottom, left, right = seen["hole"]
    assert top + bottom == 31 and left + right == 31 and 13 <= bottom - top <= 15  # the middle half of the input
