"""Hole masks: exact centre holes, random blocks and brush strokes within their ranges, drawn the same way
for the same (seed, step) in eager code, a tf.function and a tf.data pipeline."""

import cv2
import numpy as np
import pytest
import tensorflow as tf

from inpainting import masks as M
from inpainting.holes import hole_boxes


def np_masks(kind, seed=0, step=0, batch_size=8, size=32, **options):
    return np.asarray(M.make_masks(kind, seed=seed, step=step, batch_size=batch_size, image_size=size, **options))


def test_the_centre_hole_is_where_and_as_large_as_asked():
    m = np.asarray(M.centre_mask(2, 16))
    expected = np.zeros((16, 16), np.float32)
    expected[4:12, 4:12] = 1
    assert m.shape == (2, 16, 16, 1) and m.dtype == np.float32
    np.testing.assert_array_equal(m[1, ..., 0], expected)
    wide = np.asarray(M.centre_mask(1, (10, 20), hole_size=(4, 6)))[0, ..., 0]
    assert np.argwhere(wide).min(axis=0).tolist() == [3, 7] and wide.sum() == 24


@pytest.mark.parametrize("kind", ["random-block", "free-form"])
def test_masks_are_a_function_of_seed_and_step_in_eager_graph_and_tf_data(kind):
    a = np_masks(kind, seed=1, step=5)
    np.testing.assert_array_equal(a, np_masks(kind, seed=1, step=5))
    assert not np.array_equal(a, np_masks(kind, seed=1, step=6))
    assert not np.array_equal(a, np_masks(kind, seed=2, step=5))
    assert not np.array_equal(a[0], a[1])  # every image of a batch gets its own hole
    graph = tf.function(lambda step: M.make_masks(kind, seed=1, step=step, batch_size=8, image_size=32))
    np.testing.assert_array_equal(np.asarray(graph(tf.constant(5, tf.int64))), a)
    pipeline = tf.data.Dataset.range(4, 7).map(
        lambda step: M.make_masks(kind, seed=1, step=step, batch_size=8, image_size=32))
    np.testing.assert_array_equal(np.asarray(list(pipeline)[1]), a)
    # image i's hole depends on (seed, step, i) only, not on the batch size
    np.testing.assert_array_equal(np_masks(kind, seed=1, step=5, batch_size=3), a[:3])
    assert set(np.unique(a)) <= {0.0, 1.0}


def test_random_blocks_are_single_rectangles_with_sides_in_range():
    m = np_masks("random-block", batch_size=64, size=40, min_side=0.25, max_side=0.5)
    boxes = np.asarray(hole_boxes(m))
    assert boxes[:, 2:].min() >= 10 and boxes[:, 2:].max() <= 20
    assert len(np.unique(boxes[:, 2])) > 5  # sides vary
    for mask, (y, x, h, w) in zip(m[..., 0], boxes):
        filled = np.zeros_like(mask)
        filled[y:y + h, x:x + w] = 1
        np.testing.assert_array_equal(mask, filled)


@pytest.mark.parametrize("size", [64, 128])
def test_free_form_holes_cover_an_area_within_the_range(size):
    m = np_masks("free-form", batch_size=64, size=size, min_area=0.1, max_area=0.4)
    area = m.mean(axis=(1, 2, 3))
    assert area.min() >= 0.1 and area.max() <= 0.4
    assert area.max() - area.min() > 0.15  # spread over the range, not piled at one end
    narrow = np_masks("free-form", batch_size=16, size=size, min_area=0.2, max_area=0.25).mean(axis=(1, 2, 3))
    assert narrow.min() >= 0.2 and narrow.max() <= 0.25


def test_hole_boxes_are_the_bounding_boxes_and_never_empty():
    m = np.zeros((3, 10, 12, 1), np.float32)
    m[0, 2:5, 3:9] = 1
    m[1, 7, 1] = 1
    m[1, 1, 10] = 1
    assert np.asarray(hole_boxes(m)).tolist() == [[2, 3, 3, 6], [1, 1, 7, 10], [4, 5, 2, 2]]


@pytest.mark.parametrize("kind, options, message", [
    ("stars", {}, "unknown mask kind 'stars'"),
    ("random-block", {"min_side": 0.6, "max_side": 0.5}, "min_side 0.6 and max_side 0.5 must satisfy"),
    ("free-form", {"min_area": 0.0}, "min_area 0.0 and max_area 0.4 must satisfy"),
    ("centre", {"hole_size": 40}, "hole_size 40 must be smaller than the image"),
])
def test_bad_options_are_one_line_value_errors(kind, options, message):
    with pytest.raises(ValueError, match=message):
        M.make_masks(kind, batch_size=1, image_size=32, **options)


def test_the_cli_writes_masks_a_user_can_look_at(tmp_path, capsys):
    assert M.main(["--mask", "free-form", "--n", "4", "--size", "48", "--out", str(tmp_path)]) == 0
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == [f"mask_{i:03d}.png" for i in range(4)]
    image = cv2.imread(str(files[0]), cv2.IMREAD_UNCHANGED)
    assert image.shape == (48, 48) and set(np.unique(image)) == {0, 255}
    assert "wrote 4 free-form masks" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="2"):
        M.main(["--mask", "nope", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert "invalid choice: 'nope'" in err and len(err.splitlines()) == 1
