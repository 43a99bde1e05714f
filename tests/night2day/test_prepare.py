"""night2day.bdd100k (CLI: night2day.prepare): BDD100K label JSON + images -> trainA/trainB/testA/testB,
and its one-line errors."""

import json
import os

import cv2
import numpy as np
import pytest

from night2day.bdd100k import FOLDERS, PrepareError, prepare_bdd100k, read_bdd_labels
from night2day.prepare import main

N_NIGHT, N_DAY, N_MISSING_NIGHT = 12, 15, 2


def entry(name, timeofday):
    return {"name": name, "attributes": {"weather": "clear", "scene": "city street", "timeofday": timeofday},
            "timestamp": 10000, "labels": [{"category": "car", "box2d": {"x1": 1, "y1": 2, "x2": 3, "y2": 4}}]}


@pytest.fixture
def bdd(tmp_path):
    """A BDD100K-like set: 12 night + 15 day images on disk, 2 night labelled but absent, dawn/undefined extras."""
    images = tmp_path / "bdd100k" / "images" / "100k" / "train"
    images.mkdir(parents=True)
    labels = []
    for i in range(N_NIGHT + N_MISSING_NIGHT):
        labels.append(entry(f"night-{i:03d}.jpg", "night"))
    for i in range(N_DAY):
        labels.append(entry(f"day-{i:03d}.jpg", "daytime"))
    labels += [entry("dusk-000.jpg", "dawn/dusk"), entry("undef-000.jpg", "undefined"),
               {"name": "no-attributes.jpg", "labels": []}]
    for i, item in enumerate(labels):
        if item["name"].startswith("night-") and int(item["name"][6:9]) >= N_NIGHT:
            continue  # labelled but not downloaded
        pixels = np.full((4, 6, 3), i * 7 % 256, np.uint8)
        assert cv2.imwrite(str(images / item["name"]), pixels)
    label_file = tmp_path / "bdd100k_labels_images_train.json"
    label_file.write_text(json.dumps(labels, indent=1))
    return images, label_file, tmp_path / "out"


def names(folder):
    return sorted(os.listdir(folder))


def run(bdd, out=None, **kwargs):
    images, labels, default_out = bdd
    return prepare_bdd100k(images, labels, out or default_out, log=lambda m: None, **kwargs)


# ---- layout, counts, disjointness, determinism ----------------------------------------------------

def test_builds_the_four_folders_with_the_requested_counts(bdd):
    counts = run(bdd, train_per_domain=5, test_per_domain=3)
    out = bdd[2]
    assert sorted(os.listdir(out)) == sorted(FOLDERS)
    assert counts == {"trainA": 5, "testA": 3, "trainB": 5, "testB": 3, "night": N_NIGHT, "day": N_DAY,
                      "missing": N_MISSING_NIGHT}
    assert {f: len(names(out / f)) for f in FOLDERS} == {"trainA": 5, "trainB": 5, "testA": 3, "testB": 3}


def test_night_goes_to_A_and_day_to_B_and_train_test_are_disjoint(bdd):
    run(bdd, train_per_domain=6, test_per_domain=4)
    out = bdd[2]
    assert all(n.startswith("night-") for f in ("trainA", "testA") for n in names(out / f))
    assert all(n.startswith("day-") for f in ("trainB", "testB") for n in names(out / f))
    assert not set(names(out / "trainA")) & set(names(out / "testA"))
    assert not set(names(out / "trainB")) & set(names(out / "testB"))
    # only images that exist on disk were chosen, and they were copied byte for byte
    for f in FOLDERS:
        for n in names(out / f):
            assert int(n[-7:-4]) < (N_NIGHT if n.startswith("night") else N_DAY)
            assert (out / f / n).read_bytes() == (bdd[0] / n).read_bytes()
            assert not (out / f / n).is_symlink()


def test_same_seed_same_split_other_seed_other_split(bdd, tmp_path):
    run(bdd, out=tmp_path / "a", train_per_domain=4, test_per_domain=2, seed=7)
    run(bdd, out=tmp_path / "b", train_per_domain=4, test_per_domain=2, seed=7)
    run(bdd, out=tmp_path / "c", train_per_domain=4, test_per_domain=2, seed=8)
    split = {d: {f: names(tmp_path / d / f) for f in FOLDERS} for d in "abc"}
    assert split["a"] == split["b"]
    assert split["a"] != split["c"]


def test_split_does_not_depend_on_the_label_file_order(bdd, tmp_path):
    images, labels, _ = bdd
    shuffled = tmp_path / "shuffled.json"
    entries = json.loads(labels.read_text())
    shuffled.write_text(json.dumps(entries[::-1]))
    prepare_bdd100k(images, labels, tmp_path / "a", 4, 2, seed=3, log=lambda m: None)
    prepare_bdd100k(images, shuffled, tmp_path / "b", 4, 2, seed=3, log=lambda m: None)
    assert all(names(tmp_path / "a" / f) == names(tmp_path / "b" / f) for f in FOLDERS)


def test_the_split_is_random_not_the_first_names(bdd):
    run(bdd, train_per_domain=4, test_per_domain=2)
    assert names(bdd[2] / "trainB") != [f"day-{i:03d}.jpg" for i in range(4)]


def test_too_few_images_uses_all_of_them_in_the_requested_proportion_with_a_warning(bdd):
    messages = []
    images, labels, out = bdd
    counts = prepare_bdd100k(images, labels, out, train_per_domain=30, test_per_domain=10, log=messages.append)
    assert (counts["trainA"], counts["testA"]) == (9, 3)  # 12 night split 3:1
    assert (counts["trainB"], counts["testB"]) == (11, 4)  # 15 day: round(15 / 4) = 4 for test
    assert sorted(names(out / "trainA") + names(out / "testA")) == [f"night-{i:03d}.jpg" for i in range(N_NIGHT)]
    warnings = [m for m in messages if m.startswith("warning")]
    assert len(warnings) == 2 and "only 12 night images" in warnings[0] and "using 9 + 3" in warnings[0]


def test_missing_images_are_reported(bdd):
    messages = []
    prepare_bdd100k(*bdd, train_per_domain=2, test_per_domain=1, log=messages.append)
    assert any("2 labelled night/day images are not under" in m for m in messages)


def test_images_are_found_in_subfolders_of_the_images_dir(bdd):
    images, labels, out = bdd
    counts = prepare_bdd100k(images.parent.parent, labels, out, 2, 1, log=lambda m: None)  # bdd100k/images
    assert counts["trainA"] == 2 and counts["night"] == N_NIGHT


@pytest.mark.parametrize("mode", ["link", "symlink"])
def test_link_modes_link_instead_of_copying(bdd, mode):
    run(bdd, train_per_domain=2, test_per_domain=1, mode=mode)
    out, images = bdd[2], bdd[0]
    for f in FOLDERS:
        for n in names(out / f):
            target = out / f / n
            if mode == "symlink":
                assert target.is_symlink() and os.path.samefile(target, images / n)
            else:
                assert not target.is_symlink() and os.stat(target).st_ino == os.stat(images / n).st_ino


def test_zero_test_images_leaves_empty_test_folders(bdd):
    counts = run(bdd, train_per_domain=3, test_per_domain=0)
    assert counts["testA"] == counts["testB"] == 0
    assert names(bdd[2] / "testA") == [] and len(names(bdd[2] / "trainB")) == 3


def test_a_non_empty_output_needs_overwrite_and_overwrite_replaces_it(bdd):
    run(bdd, train_per_domain=4, test_per_domain=2, seed=1)
    with pytest.raises(PrepareError, match="not empty.*--overwrite"):
        run(bdd, train_per_domain=2, test_per_domain=1, seed=2)
    counts = run(bdd, train_per_domain=2, test_per_domain=1, seed=2, overwrite=True)
    assert {f: len(names(bdd[2] / f)) for f in FOLDERS} == {f: counts[f] for f in FOLDERS}


# ---- the label reader -------------------------------------------------------------------------------

def test_label_reader_streams_large_lists_across_chunks(bdd, monkeypatch):
    from night2day import bdd100k

    original = bdd100k._iter_json_list
    monkeypatch.setattr(bdd100k, "_iter_json_list", lambda path: original(path, chunk_size=17))
    timeofday = read_bdd_labels(bdd[1])
    assert len(timeofday) == N_NIGHT + N_MISSING_NIGHT + N_DAY + 2
    assert timeofday["night-000.jpg"] == "night" and timeofday["dusk-000.jpg"] == "dawn/dusk"


def test_label_reader_accepts_scalabel_frames(tmp_path):
    path = tmp_path / "det.json"
    path.write_text(json.dumps({"frames": [entry("a.jpg", "night"), entry("b.jpg", "daytime")], "config": {}}))
    assert read_bdd_labels(path) == {"a.jpg": "night", "b.jpg": "daytime"}


# ---- CLI --------------------------------------------------------------------------------------------

def cli(bdd, *extra):
    images, labels, out = bdd
    return ["--bdd-images", str(images), "--bdd-labels", str(labels), "--out", str(out), *extra]


def test_cli_prints_counts_per_folder(bdd, capsys):
    counts = main(cli(bdd, "--train-per-domain", "4", "--test-per-domain", "2", "--seed", "5", "--symlink"))
    printed = capsys.readouterr().out
    for folder, n in (("trainA", 4), ("trainB", 4), ("testA", 2), ("testB", 2)):
        assert f"{bdd[2] / folder}: {n} images" in printed
    assert "12 night and 15 day images available (2 labelled but missing)" in printed
    assert counts["trainA"] == 4 and (bdd[2] / "trainA" / names(bdd[2] / "trainA")[0]).is_symlink()


def test_cli_help_documents_the_shortage_rule(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "fewer images than train + test" in text and "--link" in text and "--copy" in text


def error_of(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


def test_cli_error_missing_images_folder(bdd, capsys, tmp_path):
    argv = cli(bdd)
    argv[1] = str(tmp_path / "nowhere")
    assert error_of(argv, capsys).endswith(f"error: images folder not found: {tmp_path / 'nowhere'}")


def test_cli_error_missing_label_file(bdd, capsys, tmp_path):
    argv = cli(bdd)
    argv[3] = str(tmp_path / "labels.json")
    assert error_of(argv, capsys).endswith(f"error: label file not found: {tmp_path / 'labels.json'}")


@pytest.mark.parametrize("content,found", [
    ('{"images": [], "annotations": []}', "found an object with keys images, annotations"),
    ('[{"file_name": "a.jpg"}]', "found an entry"),
    ('"text"', "found a JSON str"),
    ('[{"name": "a.jpg", "labels": []}]', "no entry with attributes.timeofday"),
    ('[{"name": "a.jpg", "attributes": {"timeofday": "night"}', "not valid JSON"),
    ("not json at all", "not valid JSON"),
])
def test_cli_error_not_bdd100k_format_says_what_was_expected(bdd, capsys, tmp_path, content, found):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    argv = cli(bdd)
    argv[3] = str(bad)
    message = error_of(argv, capsys)
    assert found in message and "expected BDD100K's label JSON" in message and '"timeofday"' in message


def test_cli_error_images_folder_that_does_not_match_the_labels(bdd, capsys, tmp_path):
    empty = tmp_path / "val"
    empty.mkdir()
    argv = cli(bdd)
    argv[1] = str(empty)
    message = error_of(argv, capsys)
    assert "no night images found: 14 are labelled 'night'" in message and "images/100k/train" in message


def test_cli_error_bad_counts(bdd, capsys):
    assert "must be >= 0" in error_of(cli(bdd, "--train-per-domain", "-1"), capsys)
    assert "not both 0" in error_of(cli(bdd, "--train-per-domain", "0", "--test-per-domain", "0"), capsys)


def test_cli_error_copy_and_link_are_exclusive(bdd, capsys):
    assert "not allowed with" in error_of(cli(bdd, "--copy", "--link"), capsys)
