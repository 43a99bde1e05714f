"""common.data holds up to hostile files: names that are not UTF-8, headers that claim huge
sizes, folder symlink loops, and folders whose images pass the cheap scan but never decode.
The files come from tests/common/hostile_files.py (shared with the CLI-level tests)."""

import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from common import data
from common.data import DataError, check_image_file, image_dataset, list_images, load_image, scan_images
from tests.common.hostile_files import (huge_header_png, non_utf8_copy, symlink_loop, undecodable_folder,
                                        undecodable_jpeg, undecodable_png)

REPO = Path(__file__).resolve().parents[2]


def _images(folder, n, size=(6, 5)):
    """n small PNGs (width x height = size), distinct colours."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.fromarray(np.full((size[1], size[0], 3), (30 * i, 90, 200), np.uint8)).save(folder / f"im{i}.png")
    return folder


def _printable(message: str) -> bool:
    try:
        message.encode("utf-8")  # what a strict UTF-8 stream (stdout, a log file) needs
    except UnicodeEncodeError:
        return False
    return True


# --------------------------------------------------------------------------- file names that are not UTF-8


def test_an_image_whose_name_is_not_utf8_is_listed_loaded_and_trained_on(tmp_path):
    folder = _images(tmp_path / "data", 1)
    odd = non_utf8_copy(folder / "im0.png", folder)
    (folder / "im0.png").unlink()
    assert list_images(folder) == [odd]
    assert load_image(odd).shape == (5, 6, 3)
    batch = next(iter(image_dataset(folder, image_size=4, batch_size=2, seed=0)))
    assert batch.shape == (2, 4, 4, 3)


def test_paths_that_are_not_utf8_are_logged_printably(tmp_path, caplog):
    folder = _images(tmp_path / "data", 2)
    broken = tmp_path / "broken.png"
    broken.write_text("not an image")
    bad_scan = non_utf8_copy(broken, folder, b"text\xfe.png")
    bad_decode = non_utf8_copy(undecodable_png(tmp_path / "u.png"), folder, b"garbage\xff.png")
    with caplog.at_level(logging.WARNING, logger="common.data"):
        good, bad = scan_images(list_images(folder))
        assert [item["path"] for item in bad] == [bad_scan]
        batches = list(image_dataset(folder, image_size=4, batch_size=3, seed=1).take(6))
    assert len(batches) == 6
    assert data.undecodable_files().get(bad_decode, 0) >= 1  # keyed by the path as list_images gives it
    messages = [r.getMessage() for r in caplog.records]
    assert any("text" in m for m in messages) and any("garbage" in m for m in messages)
    assert all(_printable(m) for m in messages)


def test_the_summary_reads_sizes_of_files_whose_names_are_not_utf8(tmp_path):
    folder = _images(tmp_path / "data", 2)
    non_utf8_copy(folder / "im0.png", folder)
    info = data.summary(folder)
    assert info["images"] == 3 and info["sizes"] == {"6x5": 3}
    assert _printable(data.describe(info))


# --------------------------------------------------------------------------- huge images


def test_a_png_whose_header_claims_100000x100000_is_reported_not_decoded(tmp_path, caplog):
    folder = _images(tmp_path / "data", 2)
    huge = huge_header_png(folder / "huge.png")
    reason = check_image_file(huge)
    assert reason is not None and "100000x100000" in reason
    with caplog.at_level(logging.WARNING, logger="common.data"):
        scan_images(list_images(folder))
        scan_images(list_images(folder))
    assert sum("huge.png" in r.getMessage() for r in caplog.records) == 1
    info = data.summary(folder)
    assert info["images"] == 2 and [item["path"] for item in info["skipped"]] == [huge]
    assert "skipped 1 unreadable" in data.describe(info)


def test_the_pixel_limit_is_a_module_constant(tmp_path, monkeypatch):
    image = _images(tmp_path, 1, size=(40, 30)) / "im0.png"
    assert check_image_file(image) is None
    monkeypatch.setattr(data, "MAX_IMAGE_PIXELS", 40 * 30 - 1)
    assert "40x30" in check_image_file(image)


def test_the_summary_reads_sizes_from_headers_without_decoding(tmp_path, monkeypatch):
    folder = _images(tmp_path / "data", 2)
    undecodable_png(folder / "zbig.png", width=5000, height=4000)  # only its header can say 5000x4000
    decoded = []
    real = data.load_image
    monkeypatch.setattr(data, "load_image", lambda path: decoded.append(path) or real(path))
    info = data.summary(folder)
    assert info["sizes"] == {"6x5": 2, "5000x4000": 1}
    assert len(decoded) == 1  # one decode, to be sure training can start


# --------------------------------------------------------------------------- symlink loops


def test_a_folder_symlink_loop_lists_each_file_once_and_warns_once(tmp_path, caplog):
    folder = _images(tmp_path / "data", 4)
    _images(folder / "sub", 1)
    link = symlink_loop(folder)
    symlink_loop(folder / "sub", "up")  # sub/up -> sub: a loop one level down
    with caplog.at_level(logging.WARNING, logger="common.data"):
        paths = list_images(folder)
        assert list_images(folder) == paths
    assert paths == sorted([str(folder / f"im{i}.png") for i in range(4)] + [str(folder / "sub" / "im0.png")])
    warnings = [r.getMessage() for r in caplog.records]
    assert sum(link in m for m in warnings) == 1
    assert sum(str(folder / "sub" / "up") in m for m in warnings) == 1


def test_two_links_to_one_folder_list_its_files_once(tmp_path):
    shared = _images(tmp_path / "shared", 2)
    folder = tmp_path / "data"
    folder.mkdir()
    os.symlink(shared, folder / "a")
    os.symlink(shared, folder / "b")
    assert list_images(folder) == [str(folder / "a" / "im0.png"), str(folder / "a" / "im1.png")]


# --------------------------------------------------------------------------- files that never decode


def test_plausible_but_undecodable_files_pass_the_cheap_scan(tmp_path):
    for path in (undecodable_png(tmp_path / "u.png"), undecodable_jpeg(tmp_path / "u.jpg")):
        assert check_image_file(path) is None
        with pytest.raises(Exception):
            load_image(path)


def test_a_folder_of_only_undecodable_images_is_a_data_error_naming_it(tmp_path):
    folder = undecodable_folder(tmp_path / "broken")
    with pytest.raises(DataError, match="broken") as error:
        data.summary(folder)
    assert "cannot be decoded" in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(DataError, match="broken"):
        image_dataset(folder, image_size=4, batch_size=2)
    with pytest.raises(DataError, match="broken"):
        data.unpaired_dataset(_images(tmp_path / "fine", 2), folder, image_size=4, batch_size=2)


def test_the_summary_decodes_in_order_until_one_file_does(tmp_path):
    folder = undecodable_folder(tmp_path / "data", 3)
    _images(folder, 1)  # im0.png sorts after broken*.{png,jpg}
    assert data.summary(folder)["images"] == 4


def test_a_training_pipeline_whose_files_all_fail_raises_instead_of_hanging(tmp_path):
    """Built past the up-front check (which would refuse these files), the pipeline itself must end
    in an error. A subprocess with a generous deadline: a regression fails instead of hanging."""
    folder = undecodable_folder(tmp_path / "broken", 3)
    script = textwrap.dedent(f"""
        import sys
        from common import data
        paths = data.list_images({str(folder)!r})
        ds = data._pipeline(paths, stream=0, image_size=4, batch_size=2, value_range="tanh", order="shuffle",
                            seed=0, start_step=0, resize_to=None, random_crop=False, random_flip=False,
                            repeat=True, drop_remainder=True)
        try:
            next(iter(ds))
        except Exception as exc:
            print("raised:", str(exc).splitlines()[0])
            sys.exit(0)
        print("yielded a batch")
        sys.exit(1)
    """)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    try:
        proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=300)
    except subprocess.TimeoutExpired:
        pytest.fail("the pipeline over undecodable files hung (no batch, no error within 300 s)")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "could be decoded" in proc.stdout


# --------------------------------------------------------------------------- the shared summary


def test_describe_says_count_folder_sizes_and_skipped(tmp_path):
    folder = _images(tmp_path / "data", 3)
    (folder / "zero.png").write_bytes(b"")
    line = data.describe(data.summary(folder))
    assert line == f"data: 3 images in {folder}; sizes seen: 6x5 (3); skipped 1 unreadable"


def test_a_batch_larger_than_the_training_set_is_warned_about(tmp_path):
    info = data.summary(_images(tmp_path / "data", 3))
    assert data.batch_size_note(info, 3) is None
    note = data.batch_size_note(info, 256)
    assert "256" in note and "3 training images" in note and "repeat" in note


def test_every_task_prints_the_summary_and_the_batch_size_note_in_prepare(tmp_path, capsys):
    from inpainting.task import InpaintingTask
    from inpainting.train import parse_config as inpainting_config
    from night2day.task import Night2DayTask
    from night2day.train import parse_config as night2day_config
    from watches.task import WatchesTask
    from watches.train import parse_config as watches_config

    flat = _images(tmp_path / "flat", 3)
    InpaintingTask().prepare(inpainting_config(["--data", str(flat), "--batch-size", "256"]))
    out = capsys.readouterr().out
    assert f"data: 3 images in {flat}" in out and "--batch-size 256" in out
    WatchesTask().prepare(watches_config(["--data", str(flat), "--batch-size", "256"]))
    out = capsys.readouterr().out
    assert f"data: 3 images in {flat}" in out and "--batch-size 256" in out
    layout = tmp_path / "n2d"
    _images(layout / "trainA", 3)
    _images(layout / "trainB", 300)
    Night2DayTask().prepare(night2day_config(["--data", str(layout), "--batch-size", "256"]))
    out = capsys.readouterr().out
    assert f"data: 3 images in {layout / 'trainA'}" in out and f"data: 300 images in {layout / 'trainB'}" in out
    assert out.count("--batch-size 256") == 1  # trainB has enough


# --------------------------------------------------------------------------- inpainting.prepare


def test_inpainting_prepare_names_the_first_skipped_images_with_reasons(tmp_path, capsys):
    from inpainting import prepare

    places = tmp_path / "places"
    _images(places / "canyon", 3, size=(20, 20))
    for i in range(7):
        (places / "canyon" / f"zbroken{i}.jpg").write_bytes(b"not a jpeg")
    assert prepare.main(["--places", str(places), "--categories", "1", "--per-category", "10", "--size", "8",
                         "--out", str(tmp_path / "out"), "--val-fraction", "0", "--test-fraction", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    named = [line for line in lines if "zbroken" in line]
    assert len(named) == 5 and all("not an image" in line for line in named)
    assert any("and 2 more" in line for line in lines)
