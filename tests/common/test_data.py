"""common.data: listing, scanning, decoding, value ranges, and pipelines that are a pure
function of (seed, step)."""

import io
import logging
import time

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image, features

from common import data
from common.data import (TF_DECODES_WEBP, DataError, check_image_file, decode_image, from_range, image_dataset,
                         list_images, load_image, preprocess, scan_images, steps_per_epoch, to_range,
                         unpaired_dataset)

RNG = np.random.default_rng(7)
RGB = RNG.integers(0, 256, (6, 5, 3), dtype=np.uint8)
HAS_WEBP = features.check("webp")


def _encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _png16(values: np.ndarray) -> bytes:
    return _encode(Image.fromarray(values.astype(np.uint16)), "PNG")


@pytest.fixture(scope="module")
def formats(tmp_path_factory):
    """One file per supported format / pixel layout, plus broken files."""
    root = tmp_path_factory.mktemp("formats")
    palette = Image.new("P", (5, 6))
    palette.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 759)
    palette.putdata([0, 1, 2] * 10)
    files = {
        "rgb.png": _encode(Image.fromarray(RGB), "PNG"),
        "rgb.jpg": _encode(Image.fromarray(np.full((6, 5, 3), (200, 40, 90), np.uint8)), "JPEG", quality=95),
        "gray.png": _encode(Image.fromarray(RGB[..., 0]), "PNG"),
        "rgba.png": _encode(Image.fromarray(np.dstack([RGB, np.full((6, 5), 7, np.uint8)])), "PNG"),
        "palette.png": _encode(palette, "PNG"),
        "deep16.png": _png16(np.where(np.arange(30).reshape(6, 5) % 2, 65535, 256 * 100)),
        "image.gif": _encode(palette.convert("RGB").quantize(4), "GIF"),
        "image.bmp": _encode(Image.fromarray(RGB), "BMP"),
        "UPPER.PNG": _encode(Image.fromarray(RGB), "PNG"),
    }
    if HAS_WEBP:
        files["image.webp"] = _encode(Image.fromarray(np.dstack([RGB, RGB[..., :1]])), "WEBP", lossless=True)
    good_jpeg = _encode(Image.fromarray(RNG.integers(0, 256, (32, 32, 3), dtype=np.uint8)), "JPEG")
    good_png = _encode(Image.fromarray(RNG.integers(0, 256, (32, 32, 3), dtype=np.uint8)), "PNG")
    broken = {
        "empty.jpg": b"",
        "notes.png": b"these are not the pixels you are looking for\n",
        "half.jpg": good_jpeg[: len(good_jpeg) // 2],
        "half.png": good_png[: len(good_png) // 2],
    }
    for name, contents in {**files, **broken}.items():
        (root / name).write_bytes(contents)
    (root / "readme.txt").write_text("not listed")
    (root / ".hidden.png").write_bytes(files["rgb.png"])
    (root / "sub").mkdir()
    (root / "sub" / "nested.png").write_bytes(files["rgb.png"])
    return root, sorted(files) + ["sub/nested.png"], sorted(broken)


def _noise_folder(root, n, size=12, seed=0):
    """n PNGs of random noise (so crops and flips show), size x size."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (size, size + 2 * (i % 3), 3), dtype=np.uint8)).save(root / f"{i:03d}.png")
    return root


def _colour_folder(root, n):
    """n constant-colour 4x4 PNGs; image i has colour (20*i, 255 - 20*i, 77)."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(np.full((4, 4, 3), (20 * i, 255 - 20 * i, 77), np.uint8)).save(root / f"c{i:02d}.png")
    return root


def _ids(batch):
    """File ids of a batch of colour-folder images in the sigmoid range."""
    return [int(round(v / 20)) for v in from_range(batch, "sigmoid").numpy()[:, 0, 0, 0]]


def _take(ds, k):
    return [b.numpy() if not isinstance(b, tuple) else tuple(x.numpy() for x in b) for b in ds.take(k)]


# --------------------------------------------------------------------------- files


def test_list_images_finds_every_format_any_case_sorted_and_skips_hidden(formats):
    root, good, broken = formats
    found = [p[len(str(root)) + 1:] for p in list_images(root)]
    assert found == sorted(good + broken)
    assert "readme.txt" not in found and ".hidden.png" not in found
    assert "sub/nested.png" not in [p[len(str(root)) + 1:] for p in list_images(root, recursive=False)]


def test_list_images_missing_file_or_empty_folder_raises_data_error_naming_path(tmp_path):
    with pytest.raises(DataError, match="not found.*nowhere"):
        list_images(tmp_path / "nowhere")
    (tmp_path / "file.png").write_bytes(b"x")
    with pytest.raises(DataError, match="not a folder.*file.png"):
        list_images(tmp_path / "file.png")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    with pytest.raises(DataError, match=f"no images.*{tmp_path / 'empty'}"):
        list_images(tmp_path / "empty")
    assert issubclass(DataError, ValueError)


def test_scan_images_skips_broken_files_with_reasons_reporting_each_once(formats, caplog):
    root, good, broken = formats
    if not TF_DECODES_WEBP:  # before TensorFlow 2.20 a WebP file is reported, not decoded
        webp = [name for name in good if name.endswith(".webp")]
        good, broken = [name for name in good if name not in webp], sorted(broken + webp)
    paths = list_images(root)
    with caplog.at_level(logging.WARNING, logger="common.data"):
        kept, bad = scan_images(paths)
    assert [p[len(str(root)) + 1:] for p in kept] == sorted(good)
    reasons = {item["path"][len(str(root)) + 1:]: item["reason"] for item in bad}
    assert sorted(reasons) == broken
    assert "empty" in reasons["empty.jpg"]
    assert "not an image" in reasons["notes.png"]
    assert "truncated JPEG" in reasons["half.jpg"]
    assert "truncated PNG" in reasons["half.png"]
    messages = [r.getMessage() for r in caplog.records]
    for name in broken:
        assert sum(str(root / name) in m for m in messages) == 1
    assert any(f"skipped {len(broken)} of {len(paths)}" in m for m in messages)


def test_scan_images_with_nothing_readable_raises_data_error(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"")
    (tmp_path / "b.png").write_text("text")
    with pytest.raises(DataError, match=str(tmp_path)):
        scan_images(list_images(tmp_path))


def test_scan_images_can_decode_stop_at_the_first_n_and_leave_reporting_to_the_caller(tmp_path, caplog):
    folder = _colour_folder(tmp_path, 3)  # c00 c01 c02
    (folder / "c00.png").write_bytes(b"")
    corrupt = bytearray((folder / "c02.png").read_bytes())
    corrupt[40] ^= 0xFF  # header and IEND intact: only decoding finds it
    (folder / "c01.png").write_bytes(bytes(corrupt))
    paths = [str(folder / f"c0{i}.png") for i in range(3)]
    with caplog.at_level(logging.WARNING, logger="common.data"):
        assert scan_images(paths, report=False) == (paths[1:], [{"path": paths[0], "reason": "empty file (0 bytes)"}])
        good, bad = scan_images(paths, decode=True, report=False)
        assert scan_images(paths, decode=True, stop_after=1, report=False) == (good, bad)
        assert scan_images(paths[:2], decode=True, report=False) == ([], bad)  # nothing usable: not an error
        assert scan_images(paths, stop_after=1, report=False) == (paths[1:2], bad[:1])  # c02 is not returned
    assert good == paths[2:] and [item["path"] for item in bad] == paths[:2]
    assert bad[1]["reason"].startswith("cannot be decoded")
    assert not caplog.records


# --------------------------------------------------------------------------- decoding


def _decoded(root, name):
    image = load_image(str(root / name))
    assert image.dtype == tf.uint8 and image.shape == (6, 5, 3), name
    return image.numpy()


def test_decode_rgb_png_and_bmp_exactly(formats):
    root = formats[0]
    for name in ("rgb.png", "image.bmp", "UPPER.PNG", "sub/nested.png"):
        np.testing.assert_array_equal(_decoded(root, name), RGB)


def test_decode_jpeg_close_to_source(formats):
    image = _decoded(formats[0], "rgb.jpg").astype(int)
    assert np.abs(image - [200, 40, 90]).max() <= 3


def test_decode_grayscale_is_replicated_to_three_channels(formats):
    image = _decoded(formats[0], "gray.png")
    for c in range(3):
        np.testing.assert_array_equal(image[..., c], RGB[..., 0])


def test_decode_rgba_drops_alpha(formats):
    np.testing.assert_array_equal(_decoded(formats[0], "rgba.png"), RGB)


def test_decode_palette_png_and_gif_expand_to_rgb(formats):
    expected = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255]] * 10, np.uint8).reshape(6, 5, 3)
    np.testing.assert_array_equal(_decoded(formats[0], "palette.png"), expected)
    np.testing.assert_array_equal(_decoded(formats[0], "image.gif"), expected)


def test_decode_16bit_png_keeps_high_byte(formats):
    image = _decoded(formats[0], "deep16.png")
    expected = np.where(np.arange(30).reshape(6, 5) % 2, 255, 100)
    for c in range(3):
        np.testing.assert_array_equal(image[..., c], expected)


def test_decode_16bit_rgb_png():
    import cv2

    values = np.zeros((2, 3, 3), np.uint16)
    values[..., 0], values[..., 1], values[..., 2] = 65535, 257 * 10, 0  # BGR for OpenCV
    ok, encoded = cv2.imencode(".png", values)
    image = decode_image(tf.constant(encoded.tobytes())).numpy()
    assert (image == [0, 10, 255]).all()


@pytest.mark.skipif(not HAS_WEBP, reason="Pillow cannot write WebP here")
def test_decode_webp_with_alpha(formats):
    if TF_DECODES_WEBP:
        np.testing.assert_array_equal(_decoded(formats[0], "image.webp"), RGB)
    else:  # TensorFlow before 2.20 (the floor is 2.16): the scan says why instead of a decode error later
        assert "WebP needs TensorFlow 2.20" in check_image_file(formats[0] / "image.webp")


@pytest.mark.skipif(not HAS_WEBP, reason="Pillow cannot write WebP here")
def test_animated_webp_is_skipped_by_the_scan_and_refused_by_the_decoder(tmp_path):
    # TF 2.21 decodes it into a too-small buffer (heap corruption), so it must never reach the op
    frames = [Image.fromarray(np.full((8, 8, 3), v, np.uint8)) for v in (10, 200)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "WEBP", save_all=True, append_images=frames[1:], lossless=True)
    (tmp_path / "moving.webp").write_bytes(buffer.getvalue())
    (tmp_path / "still.png").write_bytes(_encode(Image.fromarray(RGB), "PNG"))
    good, bad = scan_images(list_images(tmp_path))
    assert [p.rsplit("/", 1)[1] for p in good] == ["still.png"]
    assert "animated WebP" in bad[0]["reason"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="animated WebP"):
        load_image(tmp_path / "moving.webp")


def test_decode_rejects_data_that_is_not_an_image():
    for contents in (b"", b"RIFF", b"plain text, long enough to look at its header"):
        with pytest.raises(tf.errors.InvalidArgumentError):
            decode_image(tf.constant(contents))


def test_decode_gif_takes_first_frame():
    frames = [Image.fromarray(np.full((3, 3, 3), v, np.uint8)) for v in (10, 200)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    image = decode_image(tf.constant(buffer.getvalue())).numpy()
    assert image.shape == (3, 3, 3) and (image == 10).all()


def test_decode_goes_by_content_not_file_name(tmp_path):
    (tmp_path / "really_a_png.jpg").write_bytes(_encode(Image.fromarray(RGB), "PNG"))
    np.testing.assert_array_equal(load_image(tmp_path / "really_a_png.jpg").numpy(), RGB)


# --------------------------------------------------------------------------- value ranges


def test_to_range_maps_pixels_to_tanh_and_sigmoid_ranges():
    pixels = np.array([0, 51, 127.5, 255], np.float32)
    np.testing.assert_allclose(to_range(pixels, "tanh").numpy(), [-1, -0.6, 0, 1], atol=1e-6)
    np.testing.assert_allclose(to_range(pixels.astype(np.uint8), "sigmoid").numpy(), [0, 0.2, 127 / 255, 1],
                               atol=1e-6)
    assert to_range(np.zeros((2, 2), np.uint8), "tanh").dtype == tf.float32


@pytest.mark.parametrize("value_range", ["tanh", "sigmoid"])
def test_from_range_inverts_to_range_exactly_and_clips(value_range):
    pixels = np.arange(256, dtype=np.uint8)
    back = from_range(to_range(pixels, value_range), value_range)
    assert back.dtype == tf.uint8
    np.testing.assert_array_equal(back.numpy(), pixels)
    np.testing.assert_array_equal(from_range(np.array([-3.0, 3.0]), value_range).numpy(), [0, 255])


def test_unknown_value_range_is_rejected():
    with pytest.raises(ValueError, match="value_range"):
        to_range(np.zeros(3), "relu")
    with pytest.raises(ValueError, match="value_range"):
        from_range(np.zeros(3), "[-1, 1]")


# --------------------------------------------------------------------------- preprocess


def test_preprocess_resizes_to_image_size_in_0_255():
    image = preprocess(tf.constant(RGB), image_size=4)
    assert image.shape == (4, 4, 3) and image.dtype == tf.float32
    assert 0 <= image.numpy().min() and image.numpy().max() <= 255
    assert preprocess(tf.constant(RGB), image_size=(3, 8)).shape == (3, 8, 3)


def test_preprocess_random_crop_is_a_window_of_the_resized_image_and_seeded():
    image = tf.constant(np.random.default_rng(1).integers(0, 256, (20, 30, 3), dtype=np.uint8))
    resized = tf.image.resize(tf.cast(image, tf.float32), (16, 16), antialias=True).numpy()
    crops = {}
    for s in range(6):
        crop = preprocess(image, image_size=8, resize_to=16, random_crop=True, seed=tf.constant([s, 0])).numpy()
        windows = [(y, x) for y in range(9) for x in range(9) if np.allclose(resized[y:y + 8, x:x + 8], crop)]
        assert len(windows) == 1
        crops[s] = windows[0]
        again = preprocess(image, image_size=8, resize_to=16, random_crop=True, seed=tf.constant([s, 0]))
        np.testing.assert_array_equal(again.numpy(), crop)
    assert len(set(crops.values())) > 1


def test_preprocess_random_flip_flips_some_seeds_not_others():
    image = tf.constant(RGB)
    flipped = set()
    for s in range(8):
        out = preprocess(image, image_size=(6, 5), random_flip=True, seed=tf.constant([s, 1])).numpy()
        if np.allclose(out, RGB[:, ::-1]):
            flipped.add(s)
        else:
            np.testing.assert_allclose(out, RGB, atol=1e-3)
    assert 0 < len(flipped) < 8


def test_preprocess_crop_larger_than_image_upscales_first():
    crop = preprocess(tf.constant(RGB), image_size=10, random_crop=True, seed=tf.constant([0, 0]))
    assert crop.shape == (10, 10, 3)


def test_preprocess_needs_a_seed_for_randomness():
    with pytest.raises(ValueError, match="seed"):
        preprocess(tf.constant(RGB), image_size=4, random_flip=True)


# --------------------------------------------------------------------------- pipelines


@pytest.fixture(scope="module")
def noise(tmp_path_factory):
    return _noise_folder(tmp_path_factory.mktemp("noise"), 10)


@pytest.fixture(scope="module")
def colours(tmp_path_factory):
    return _colour_folder(tmp_path_factory.mktemp("colours"), 7)


@pytest.mark.parametrize("value_range,low,high", [("tanh", -1.0, 1.0), ("sigmoid", 0.0, 1.0)])
def test_pipeline_batches_have_shape_dtype_and_range(noise, value_range, low, high):
    # crops without resizing keep the noise's full 0..255 spread
    ds = image_dataset(noise, image_size=8, batch_size=4, value_range=value_range, random_crop=True, random_flip=True)
    assert ds.element_spec.shape.as_list() == [4, 8, 8, 3]
    batches = np.stack(_take(ds, 5))
    assert batches.dtype == np.float32 and batches.shape == (5, 4, 8, 8, 3)
    assert low <= batches.min() < low + 0.1 and high - 0.1 < batches.max() <= high


@pytest.mark.parametrize("order", ["shuffle", "random"])
def test_same_seed_same_batches_different_seed_different(noise, order):
    args = dict(image_size=8, batch_size=3, order=order, resize_to=12, random_crop=True, random_flip=True)
    first = _take(image_dataset(noise, seed=5, **args), 6)
    again = _take(image_dataset(noise, seed=5, **args), 6)
    other = _take(image_dataset(noise, seed=6, **args), 6)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


@pytest.mark.parametrize("order", ["shuffle", "random", "sequential"])
def test_resume_at_step_k_yields_exactly_the_uninterrupted_batches(noise, order):
    # batch 3 over 10 files: epochs end mid-batch, so resuming must get the epoch arithmetic right
    args = dict(image_size=8, batch_size=3, order=order, seed=11, resize_to=12, random_crop=True, random_flip=True)
    uninterrupted = _take(image_dataset(noise, **args), 12)
    for k in (1, 4, 7):
        resumed = _take(image_dataset(noise, start_step=k, **args), 12 - k)
        for step, batch in enumerate(resumed, start=k):
            np.testing.assert_array_equal(batch, uninterrupted[step], err_msg=f"{order}: step {step} from {k}")


def test_start_step_skips_without_reading_the_skipped_images(noise):
    started = time.perf_counter()
    far = _take(image_dataset(noise, image_size=8, batch_size=64, start_step=10**8), 1)
    assert time.perf_counter() - started < 10  # 6.4e9 skipped images: only an index is moved
    assert far[0].shape == (64, 8, 8, 3)


def test_shuffle_order_visits_every_file_once_per_epoch_in_new_orders(colours):
    ds = image_dataset(colours, image_size=4, batch_size=7, value_range="sigmoid", order="shuffle", seed=3)
    epochs = [_ids(b) for b in _take(ds, 4)]
    for epoch in epochs:
        assert sorted(epoch) == list(range(7))
    assert len({tuple(e) for e in epochs}) > 1 and epochs[0] != list(range(7))


def test_random_order_samples_with_replacement_roughly_uniformly(colours):
    ds = image_dataset(colours, image_size=4, batch_size=7, value_range="sigmoid", order="random", seed=3)
    draws = [_ids(b) for b in _take(ds, 60)]
    counts = np.bincount(np.concatenate(draws), minlength=7)
    assert any(len(set(d)) < 7 for d in draws)  # repeats within a batch happen
    assert counts.min() > 30 and counts.max() < 90  # 420 draws, 60 expected each


def test_sequential_order_is_one_pass_in_file_order_keeping_the_last_partial_batch(colours):
    ds = image_dataset(colours, image_size=4, batch_size=3, value_range="sigmoid", order="sequential", repeat=False,
                       drop_remainder=False)
    batches = _take(ds, 10)
    assert [len(b) for b in batches] == [3, 3, 1]
    assert [i for b in batches for i in _ids(b)] == list(range(7))


def test_pipeline_accepts_a_list_of_paths(colours):
    paths = list_images(colours)[2:5]
    ds = image_dataset(paths, image_size=4, batch_size=3, value_range="sigmoid", order="sequential", repeat=False)
    assert _ids(_take(ds, 1)[0]) == [2, 3, 4]


def test_missing_or_empty_folder_fails_when_the_dataset_is_built(tmp_path):
    with pytest.raises(DataError, match="nope"):
        image_dataset(tmp_path / "nope", image_size=8, batch_size=2)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty"):
        unpaired_dataset(tmp_path / "empty", tmp_path / "empty", image_size=8, batch_size=2)


def test_bad_arguments_are_rejected(noise):
    with pytest.raises(ValueError, match="order"):
        image_dataset(noise, image_size=8, batch_size=2, order="zigzag")
    with pytest.raises(ValueError, match="batch_size"):
        image_dataset(noise, image_size=8, batch_size=0)
    with pytest.raises(ValueError, match="resize_to"):
        image_dataset(noise, image_size=8, batch_size=2, resize_to=6, random_crop=True)


def test_unpaired_domains_have_independent_orders_and_resume_exactly(colours):
    args = dict(image_size=4, batch_size=7, value_range="sigmoid", seed=2)
    pairs = _take(unpaired_dataset(colours, colours, **args), 3)
    for a, b in pairs:
        assert a.shape == b.shape == (7, 4, 4, 3)
        assert sorted(_ids(a)) == sorted(_ids(b)) == list(range(7))
    assert any(_ids(a) != _ids(b) for a, b in pairs)
    resumed = _take(unpaired_dataset(colours, colours, start_step=2, **args), 1)[0]
    np.testing.assert_array_equal(resumed[0], pairs[2][0])
    np.testing.assert_array_equal(resumed[1], pairs[2][1])


def test_unpaired_smaller_domain_wraps_around(colours, noise):
    pairs = _take(unpaired_dataset(colours, noise, image_size=4, batch_size=5, value_range="sigmoid",
                                   order="random"), 6)
    assert len(pairs) == 6 and all(a.shape == b.shape == (5, 4, 4, 3) for a, b in pairs)
    ids = [i for a, _ in pairs for i in _ids(a)]
    assert len(ids) == 30 and set(ids) <= set(range(7))


def test_steps_per_epoch_is_a_pass_over_the_larger_domain():
    assert steps_per_epoch(1200, 400, 1) == 1200
    assert steps_per_epoch(10, 25, 4) == 6
    with pytest.raises(ValueError):
        steps_per_epoch(10, 10, 0)


# --------------------------------------------------------------------------- robustness


def test_long_run_over_a_folder_with_broken_files_completes_and_resumes_exactly(tmp_path, caplog):
    folder = _colour_folder(tmp_path / "mixed", 7)
    (folder / "zero.jpg").write_bytes(b"")
    (folder / "text.png").write_text("hello")
    # passes scan_images (header and IEND intact) but fails to decode: bad chunk checksum
    corrupt = bytearray((folder / "c03.png").read_bytes())
    corrupt[40] ^= 0xFF
    (folder / "c99.png").write_bytes(bytes(corrupt))
    args = dict(image_size=4, batch_size=5, value_range="sigmoid", seed=9)
    with caplog.at_level(logging.WARNING, logger="common.data"):
        batches = _take(image_dataset(folder, **args), 40)
    assert len(batches) == 40 and all(b.shape == (5, 4, 4, 3) for b in batches)
    assert set(i for b in batches for i in _ids(b)) == set(range(7))
    assert data.undecodable_files().get(str(folder / "c99.png"), 0) >= 20  # 200 images over 8 files
    assert sum("c99.png" in r.getMessage() for r in caplog.records) == 1
    # a substitute stands in for the undecodable file, so nothing shifts
    resumed = _take(image_dataset(folder, start_step=33, **args), 7)
    for step, batch in enumerate(resumed, start=33):
        np.testing.assert_array_equal(batch, batches[step])
    # evaluation leaves it out
    evaluation = _take(image_dataset(folder, order="sequential", repeat=False, drop_remainder=False,
                                     **{**args, "batch_size": 100}), 2)
    assert len(evaluation) == 1 and sorted(_ids(evaluation[0])) == list(range(7))


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    pytest.skip("no /proc/self/status")


def test_memory_stays_flat_streaming_thousands_of_files(tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    tile = _encode(Image.fromarray(np.zeros((8, 8, 3), np.uint8)), "PNG")
    n = 4000
    for i in range(n):
        pixels = np.full((8, 8, 3), (i % 256, (i // 256) % 256, 9), np.uint8)
        (folder / f"{i:05d}.png").write_bytes(_encode(Image.fromarray(pixels), "PNG") if i % 50 else tile)
    # upscaled to 32x32 so that keeping the images (12 KB each as float32) would show:
    # ~50 MB per epoch
    batch = 100
    iterator = iter(image_dataset(folder, image_size=32, batch_size=batch, seed=1))
    for _ in range(5):  # warm up: threads, buffers, autotuning
        next(iterator)
    before = _rss_mb()
    for _ in range(2 * n // batch):  # two epochs
        next(iterator)
    growth = _rss_mb() - before
    print(f"RSS growth over two epochs: {growth:.1f} MB")
    assert growth < 25, f"RSS grew by {growth:.0f} MB over two epochs of {n} images"
