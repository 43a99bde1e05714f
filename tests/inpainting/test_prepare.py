"""python -m inpainting.prepare on tiny Places365-like folders."""

import json

import cv2
import numpy as np
import pytest

from inpainting import prepare


def photo(path, colour, size=(40, 60)):
    """A 40x60 image: the centre 40x40 square in `colour`, 10-px side margins in black."""
    image = np.zeros((*size, 3), np.uint8)
    margin = (size[1] - size[0]) // 2
    image[:, margin:size[1] - margin] = colour
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), image)


def places_small(root, per=10):
    """data_256/<letter>/<category>/ with one nested category, as Places365-small."""
    for category in ("a/airfield", "a/apartment_building/outdoor", "b/bedroom", "c/canyon"):
        for i in range(per):
            photo(root / "places" / "data_256" / category / f"{i:08d}.jpg", (40 + 10 * i, 100, 200))
    return root / "places"


def test_places_small_subset_is_split_disjointly_and_centre_cropped(tmp_path, capsys):
    places = places_small(tmp_path)
    (places / "data_256" / "b" / "bedroom" / "broken.jpg").write_bytes(b"not a jpeg")
    out = tmp_path / "out"
    assert prepare.main(["--places", str(tmp_path), "--categories", "3", "--per-category", "11",
                         "--size", "16", "--out", str(out), "--seed", "1"]) == 0
    plan = json.loads((out / "split.json").read_text())
    files = {s: sorted(p.name for p in (out / s).iterdir()) for s in prepare.SPLITS}
    assert all(files[s] == plan[s] for s in prepare.SPLITS)
    assert not set(files["train"]) & set(files["test"]) and not set(files["val"]) & set(files["test"])
    printed = capsys.readouterr().out
    assert "total" in printed and "fewer than --per-category 11" in printed
    image = cv2.imread(str(out / "train" / files["train"][0]))
    assert image.shape == (16, 16, 3) and image.min() > 30  # the black margins were cropped away
    categories = plan["settings"]["categories"]
    assert len(categories) == 3 and set(categories) <= {"airfield", "apartment_building/outdoor", "bedroom",
                                                         "canyon"}
    n = sum(len(plan[s]) for s in prepare.SPLITS)
    assert n == 10 * 3 - (1 if "bedroom" in categories else 0) or n == 10 * 3
    if "bedroom" in categories:
        assert plan["skipped"] and plan["skipped"][0].endswith("broken.jpg")
    # the same seed draws the same set; another seed another
    again = tmp_path / "again"
    prepare.main(["--places", str(tmp_path), "--categories", "3", "--per-category", "11", "--size", "16",
                  "--out", str(again), "--seed", "1"])
    assert json.loads((again / "split.json").read_text())["train"] == plan["train"]
    other = tmp_path / "other"
    prepare.main(["--places", str(tmp_path), "--categories", "3", "--per-category", "5", "--size", "16",
                  "--out", str(other), "--seed", "2"])
    assert json.loads((other / "split.json").read_text())["train"] != plan["train"]


def test_flat_category_layout_and_named_categories(tmp_path, capsys):
    for category in ("beach", "forest"):
        for i in range(10):
            photo(tmp_path / "flat" / category / f"{i}.png", (10, 200, 30))
    out = tmp_path / "out"
    assert prepare.main(["--places", str(tmp_path / "flat"), "--category-list", "forest", "--per-category", "10",
                         "--size", "8", "--out", str(out), "--val-fraction", "0.2", "--test-fraction", "0.3"]) == 0
    counts = {s: len(list((out / s).iterdir())) for s in prepare.SPLITS}
    assert counts == {"train": 5, "val": 2, "test": 3}
    assert all(p.name.startswith("forest_") for p in (out / "train").iterdir())


@pytest.mark.parametrize("argv, message", [
    (["--category-list", "moon"], "unknown category moon"),
    (["--categories", "9"], "--categories 9: only 4 categories found"),
])
def test_bad_requests_are_one_line_errors(argv, message, tmp_path, capsys):
    places_small(tmp_path, per=2)
    assert prepare.main(["--places", str(tmp_path), "--out", str(tmp_path / "out"), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and message in err and len(err.splitlines()) == 1


def test_unknown_layout_and_an_existing_set_are_refused(tmp_path, capsys):
    (tmp_path / "loose").mkdir()
    (tmp_path / "loose" / "notes.txt").write_text("no images here")
    assert prepare.main(["--places", str(tmp_path / "loose"), "--out", str(tmp_path / "o")]) == 2
    assert "neither Places365-small's data_256" in capsys.readouterr().err
    places_small(tmp_path, per=2)
    args = ["--places", str(tmp_path), "--out", str(tmp_path / "o2"), "--categories", "1", "--size", "8"]
    assert prepare.main(args) == 0
    assert prepare.main(args) == 2
    assert "already holds a prepared set" in capsys.readouterr().err
    assert prepare.main([*args, "--overwrite"]) == 0
