"""Sample sheets as people see them: every tile at least 128 px, labels in their own bands, legible and
fitted to their column; the three tasks' training sheets built the way the trainer builds them."""

from __future__ import annotations

import numpy as np
import pytest

from common.runtime.images import LABEL_BAND, enlarged, image_grid, labelled_grid, sheet_tile, shown
from tests.common.tiny_models import MODELS, task_and_parser

WHITE = 255


def blocks(tile, k):
    """tile with each k x k block replaced by its top-left pixel: equal to tile iff tile is a nearest
    k-times enlargement."""
    return np.repeat(np.repeat(tile[::k, ::k], k, axis=0), k, axis=1)


def test_sheet_tiles_are_at_least_128_px_small_images_enlarged_by_a_whole_factor():
    assert [sheet_tile(s) for s in (16, 24, 32, 48, 88, 128, 200, 720)] == [128, 144, 128, 144, 176, 128, 200, 256]
    rng = np.random.default_rng(0)
    batch = rng.uniform(-1, 1, (2, 16, 16, 3)).astype("float32")
    tiles = shown(batch)  # [-1, 1] network pixels
    assert [t.shape for t in tiles] == [(128, 128, 3)] * 2
    assert np.array_equal(tiles[0], blocks(tiles[0], 8))  # every network pixel an 8 x 8 square
    assert np.array_equal(tiles[0][::8, ::8], np.round((batch[0] + 1) * 127.5).astype(np.uint8))
    assert shown(rng.uniform(-1, 1, (1, 300, 300, 3)))[0].shape == (256, 256, 3)  # large: reduced to 256
    wide = rng.integers(0, 256, (20, 50, 3), dtype=np.uint8)
    assert enlarged(wide).shape == (140, 350, 3) and np.array_equal(enlarged(wide)[::7, ::7], wide)
    assert enlarged(np.zeros((130, 400, 3), np.uint8)).shape == (130, 400, 3)


def test_labels_sit_in_their_own_bands_and_leave_the_images_untouched():
    rng = np.random.default_rng(1)
    images = [[rng.integers(0, 256, (128, 128, 3), dtype=np.uint8) for _ in range(3)] for _ in range(2)]
    sheet = image_grid(images, columns=["night", "G(night)", "F(G(night))"], row_labels=["seed 1", "seed 22"],
                       captions=[["a", "b", "c"], ["d", "e", "f"]], title="a title")
    left = sheet.shape[1] - (3 * 130 + 2)
    assert sheet.shape[0] == 2 * LABEL_BAND + 2 * (128 + LABEL_BAND + 2) + 2 and 0 < left < 128
    for i in range(2):
        for j in range(3):
            y, x = 2 * LABEL_BAND + 2 + i * (128 + LABEL_BAND + 2), left + 2 + j * 130
            assert np.array_equal(sheet[y:y + 128, x:x + 128], images[i][j])
            caption = sheet[y + 128:y + 128 + LABEL_BAND, x:x + 128]
            assert caption.min() < 100 and caption.max() == WHITE  # dark text on white, unlike the image
            assert (caption > 200).mean() > 0.7
            row_band = sheet[y:y + 128, :left]
            assert row_band.min() < 100 and row_band.max() == WHITE
    for band in (sheet[:LABEL_BAND], sheet[LABEL_BAND:2 * LABEL_BAND]):  # the title, the column labels
        assert band.min() < 100 and band.max() == WHITE
    # nothing asked for: the plain grid, without bands
    assert image_grid(images).shape == (2 * 130 + 2, 3 * 130 + 2, 3)


def test_a_label_wider_than_its_column_is_fitted_and_never_reaches_the_next_column():
    tiles = [[np.zeros((128, 128, 3), np.uint8)] * 3]
    long = "a very long column title that cannot fit in one tile"
    sheet = labelled_grid([([long, long, long], tiles)])
    band = sheet[:LABEL_BAND]
    for j in range(3):
        x = 2 + j * 130
        assert band[:, x:x + 128].min() < 100  # written (shrunk, then cut short)
        assert (band[:, x - 2:x] == WHITE).all()  # the gaps between columns stay white: no overlap
    assert (band[:, -2:] == WHITE).all()


@pytest.mark.parametrize("name", ["night2day-resnet", "inpainting-improved", "watches-dcgan"])
def test_each_tasks_training_sheet_shows_every_image_at_least_128_px_under_labels(name, tmp_path):
    task_name, flags, _ = MODELS[name]
    task, parse_config = task_and_parser(task_name)
    config = parse_config(["--data", "demo", "--wandb", "disabled", "--out", str(tmp_path), *flags])
    task.prepare(config)
    task.start(config)
    sheet = task.sample_grid(task.build_model(config))
    assert sheet.dtype == np.uint8 and sheet.ndim == 3
    size = config["image_size"] if task_name != "night2day" else task._scale(config)
    k = sheet_tile(size) // size
    tile_side = size * k
    assert tile_side >= 128
    # the first tile: below the column labels (night2day, inpainting) or above its seed caption (watches)
    y = 2 if task_name == "watches" else LABEL_BAND + 2
    tile = sheet[y:y + tile_side, 2:2 + tile_side]
    assert np.array_equal(tile, blocks(tile, k))  # nearest enlargement of one image
    band = sheet[y + tile_side:y + tile_side + LABEL_BAND, 2:2 + tile_side] if task_name == "watches" else \
        sheet[:LABEL_BAND, 2:2 + tile_side]
    assert band.min() < 100 and (band > 200).mean() > 0.7  # the label: dark text on white
    assert not np.array_equal(band, tile[:LABEL_BAND])
