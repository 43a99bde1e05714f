"""The built-in demo sets (<task>/demo.py, built by common.demo_data.build_demo_set) - layout,
counts, sizes, determinism, and night images that really are night."""

import os
from pathlib import Path

import numpy as np
import pytest

from common.data import image_dataset, list_images, load_image, scan_images
from common.demo_data import COMPLETE_MARKER, command_line
from inpainting.demo import demo_dataset as inpainting_demo
from night2day.demo import demo_dataset as night2day_demo
from night2day.demo import render_night
from watches.demo import demo_dataset as watches_demo

DEMOS = {"night2day": night2day_demo, "inpainting": inpainting_demo, "watches": watches_demo}

LAYOUT = {
    "night2day": (128, {"trainA": 24, "trainB": 24, "testA": 8, "testB": 8}),
    "inpainting": (128, {"train": 40, "test": 12}),
    "watches": (64, {"images": 48}),
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    return root, {task: DEMOS[task](root) for task in LAYOUT}


def _pixels(folder):
    return [np.asarray(load_image(p)) for p in list_images(folder)]


@pytest.mark.parametrize("task", sorted(LAYOUT))
def test_layout_counts_and_image_sizes(built, task):
    root, folders = built
    size, counts = LAYOUT[task]
    assert folders[task] == root / task
    assert sorted(p.name for p in folders[task].iterdir() if not p.name.startswith(".")) == sorted(counts)
    for split, count in counts.items():
        paths = list_images(folders[task] / split)
        assert len(paths) == count and scan_images(paths)[1] == []
        for image in _pixels(folders[task] / split):
            assert image.shape == (size, size, 3) and image.dtype == np.uint8
            assert image.std() > 10  # a picture, not a blank tile


def test_building_twice_gives_the_same_bytes(built, tmp_path):
    root, folders = built
    again = night2day_demo(tmp_path)
    first = list_images(folders["night2day"])
    second = list_images(again)
    assert [os.path.relpath(p, folders["night2day"]) for p in first] == [os.path.relpath(p, again) for p in second]
    for a, b in zip(first, second):
        assert open(a, "rb").read() == open(b, "rb").read()


def test_a_finished_set_is_reused_not_rebuilt(built):
    root, folders = built
    marker = folders["watches"] / COMPLETE_MARKER
    stamp = marker.stat().st_mtime_ns
    assert watches_demo(root) == folders["watches"]
    assert marker.stat().st_mtime_ns == stamp
    assert not [p for p in root.iterdir() if p.name.startswith(".")]  # no temporary folders left behind


def test_a_half_built_or_outdated_set_is_replaced(tmp_path):
    partial = tmp_path / "watches-16"
    (partial / "images").mkdir(parents=True)
    (partial / "images" / "000.png").write_bytes(b"half written")
    folder = watches_demo(tmp_path, size=16)
    assert folder == partial and len(list_images(folder / "images")) == 48
    assert scan_images(list_images(folder))[1] == []
    marker = folder / COMPLETE_MARKER
    marker.write_text(marker.read_text().replace('"version": ', '"version": 1000'))
    watches_demo(tmp_path, size=16)
    assert '"version": 1000' not in marker.read_text()


def test_night_is_darker_and_bluer_than_day_with_bright_lights(built):
    folders = built[1]
    for split in ("train", "test"):
        night = np.stack(_pixels(folders["night2day"] / f"{split}A")).astype(float)
        day = np.stack(_pixels(folders["night2day"] / f"{split}B")).astype(float)
        assert night.mean() < 0.5 * day.mean()
        # blue cast: the photos are warm (orange suit, coffee, red motorcycle), night less so
        assert night[..., 2].mean() / night[..., 0].mean() > 1.3 * day[..., 2].mean() / day[..., 0].mean()
        assert (night.reshape(len(night), -1).max(axis=1) > 200).mean() > 0.9  # lamps / headlights


def _shared_detail(night, day):
    """Correlation of fine detail (high-pass, grey) over the night image's dark parts,
    away from lamps and their glow: high when both show the same crop."""
    from scipy import ndimage

    night, day = night.astype(float).mean(-1), day.astype(float).mean(-1)
    dark = ndimage.gaussian_filter(night, 2) < 40
    detail = [x - ndimage.gaussian_filter(x, 2) for x in (night, day)]
    return np.corrcoef(detail[0][dark], detail[1][dark])[0, 1]


def test_night_and_day_domains_are_unpaired(built):
    folders = built[1]
    night, day = _pixels(folders["night2day"] / "trainA"), _pixels(folders["night2day"] / "trainB")
    rng = np.random.default_rng(0)
    assert min(_shared_detail(render_night(d, rng), d) for d in day) > 0.3  # the measure sees pairs
    assert max(_shared_detail(n, d) for n in night for d in day) < 0.2


def test_the_test_split_is_paired_by_file_name(built):
    folders = built[1]
    night_files = list_images(folders["night2day"] / "testA")
    day_files = list_images(folders["night2day"] / "testB")
    assert [Path(p).name for p in night_files] == [Path(p).name for p in day_files]
    night, day = _pixels(folders["night2day"] / "testA"), _pixels(folders["night2day"] / "testB")
    matched = [_shared_detail(n, d) for n, d in zip(night, day)]
    others = [_shared_detail(n, d) for i, n in enumerate(night) for j, d in enumerate(day) if i != j]
    assert min(matched) > 0.3 and max(others) < 0.2


def test_custom_size_is_a_separate_folder(built):
    root, folders = built
    small = inpainting_demo(root, size=32)
    assert small == root / "inpainting-32" and small != folders["inpainting"]
    assert {x.shape for x in _pixels(small / "test")} == {(32, 32, 3)}


def test_default_root_follows_ganworks_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("GANWORKS_CACHE", str(tmp_path / "cache"))
    assert watches_demo(size=16) == tmp_path / "cache" / "demo" / "watches-16"


def test_command_line_prints_the_folders(tmp_path, capsys):
    assert command_line(watches_demo, "python -m watches.demo", ["--out", str(tmp_path), "--size", "16"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "watches-16")


def test_demo_sets_feed_the_pipeline(built):
    folders = built[1]
    batch = next(iter(image_dataset(folders["night2day"] / "trainA", image_size=64, batch_size=4, resize_to=80,
                                    random_crop=True, random_flip=True)))
    assert batch.shape == (4, 64, 64, 3) and -1.0 <= float(batch.numpy().min()) < float(batch.numpy().max()) <= 1.0


@pytest.mark.parametrize("task", ["night2day", "inpainting", "watches"])
def test_python_m_task_demo_builds_the_set_and_prints_its_folder(task, tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", f"{task}.demo", "--out", str(tmp_path), "--size", "16"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    folder = Path(done.stdout.strip().splitlines()[-1])
    assert folder == tmp_path / f"{task}-16" and folder.is_dir()
    images = [p for p in folder.rglob("*.png")]
    assert images and all(np.asarray(load_image(str(p))).shape == (16, 16, 3) for p in images)
