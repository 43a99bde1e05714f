"""python -m watches.prepare on the watches demo set with planted trouble: broken files (truncated JPEG, a text
file named .png, zero bytes, an undecodable PNG), an exact duplicate, a near-duplicate (brightened, resized,
recompressed), odd sizes and RGBA / palette images; the summary's counts, the files written (folder and zip),
the Kaggle path (kagglehub stood in for) and the one-line errors."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from tests.common.hostile_files import non_utf8_copy, undecodable_png
from watches import prepare as prep
from watches.demo import demo_dataset

SIZE = 32
ROOT = Path(__file__).resolve().parents[2]
BROKEN = {"zz/empty.png": "empty file (0 bytes)", "zz/notes.png": "not an image",
          "zz/truncated.jpg": "truncated", "zz/undecodable.png": ""}


def pattern(width, height, kind):
    """Images nothing like a watch (and unlike each other): stripes, a checkerboard, a ramp."""
    y, x = np.mgrid[0:height, 0:width]
    if kind == "stripes":
        grey = ((x + 2 * y) // 6 % 2) * 255
        return np.stack([grey, 255 - grey, np.full_like(grey, 60)], -1).astype(np.uint8)
    if kind == "checker":
        grey = ((x // 8 + y // 8) % 2) * 200
        return np.stack([grey, grey // 2, 255 - grey], -1).astype(np.uint8)
    return np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), 255 - x * 255 // width], -1
                    ).astype(np.uint8)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """The 48 demo watches in images/, the planted files in zz/ (sorted after them), and a README."""
    root = tmp_path_factory.mktemp("planted")
    shutil.copytree(Path(demo_dataset()) / "images", root / "images")
    zz = root / "zz"
    zz.mkdir()
    jpeg = io.BytesIO()
    Image.open(root / "images" / "000.png").convert("RGB").save(jpeg, "JPEG", quality=90)
    (zz / "truncated.jpg").write_bytes(jpeg.getvalue()[:len(jpeg.getvalue()) // 2])
    (zz / "notes.png").write_text("this is not an image\n")
    (zz / "empty.png").write_bytes(b"")
    undecodable_png(zz / "undecodable.png")
    shutil.copyfile(root / "images" / "001.png", zz / "copy.png")
    near = ImageEnhance.Brightness(Image.open(root / "images" / "002.png").convert("RGB")).enhance(1.1)
    near.resize((80, 80), Image.LANCZOS).save(zz / "near.jpg", quality=85)
    Image.fromarray(pattern(96, 40, "ramp")).save(zz / "wide.png")  # non-square, aspect 2.4
    Image.fromarray(pattern(24, 24, "stripes")).rotate(90).save(zz / "small.png")
    rgba = np.dstack([pattern(64, 64, "checker"), np.where(np.arange(64)[:, None] < 32, 0, 255) * np.ones((1, 64))])
    Image.fromarray(rgba.astype(np.uint8), "RGBA").save(zz / "rgba.png")  # the top half transparent
    Image.fromarray(pattern(64, 64, "stripes")).convert("P", palette=Image.ADAPTIVE, colors=8).save(zz / "palette.png")
    (root / "README.txt").write_text("not an image, ignored\n")
    return root


@pytest.fixture(scope="module")
def prepared(planted, tmp_path_factory):
    out = tmp_path_factory.mktemp("prepared") / "clean"
    return out, prep.prepare(planted, out, size=SIZE, workers=2)


def test_the_summary_counts_every_kind_of_trouble(prepared):
    out, summary = prepared
    assert summary["counts"] == {"files": 59, "images": 58, "read": 58, "written": 52, "unreadable": 4,
                                 "duplicates": 1, "near_duplicates": 1, "near_duplicates_dropped": 1,
                                 "odd_sizes": 2, "ignored": 1}
    assert set(summary["unreadable"]) == set(BROKEN)
    for name, reason in BROKEN.items():
        assert summary["unreadable"][name].startswith(reason), summary["unreadable"][name]
    assert summary["duplicates"] == {"zz/copy.png": "images/001.png"}
    near = summary["near_duplicates"]
    assert list(near) == ["zz/near.jpg"] and near["zz/near.jpg"]["of"] == "images/002.png"
    assert near["zz/near.jpg"]["distance"] <= prep.NEAR_THRESHOLD and near["zz/near.jpg"]["kept"] is False
    assert summary["odd_sizes"] == {"zz/small.png": {"size": "24x24", "why": [f"smaller than {SIZE}"]},
                                    "zz/wide.png": {"size": "96x40", "why": ["non-square", "aspect 2.40"]}}
    assert summary["modes"] == {"P": 1, "RGB": 52, "RGBA": 1}
    assert summary["ignored"] == ["README.txt"]
    assert summary["settings"] | {"data": None, "out": None} == {
        "data": None, "out": None, "size": SIZE, "near_duplicates": "drop", "near_threshold": prep.NEAR_THRESHOLD,
        "max_aspect": prep.MAX_ASPECT, "max_images": None, "resample": "LANCZOS", "format": "png"}
    assert json.loads((out / "summary.json").read_text()) == summary


def test_the_clean_folder_holds_every_kept_image_as_size_x_size_rgb(prepared, planted):
    out, summary = prepared
    written = sorted(out.glob("*.png"))
    assert [p.name for p in written] == [f"img{i:06d}.png" for i in range(52)]
    assert sorted(p.name for p in out.iterdir()) == [*(p.name for p in written), "summary.json"]
    sources = {f["out"]: f["source"] for f in summary["files"]}
    assert sources["img000000.png"] == "images/000.png" and "zz/copy.png" not in sources.values()
    assert "zz/near.jpg" not in sources.values() and "images/002.png" in sources.values()
    for path in written:
        with Image.open(path) as image:
            assert (image.mode, image.size) == ("RGB", (SIZE, SIZE))
    by_source = {v: k for k, v in sources.items()}
    # the demo's 64-px watch, downscaled to SIZE with LANCZOS, is what was written
    first = np.asarray(Image.open(out / by_source["images/000.png"]), np.float64)
    expect = np.asarray(Image.open(planted / "images" / "000.png").convert("RGB").resize((SIZE, SIZE), Image.LANCZOS))
    assert np.abs(first - expect).max() <= 1
    # RGBA: the transparent top half on white, the opaque bottom half its own colours
    rgba = np.asarray(Image.open(out / by_source["zz/rgba.png"]))
    assert (rgba[:SIZE // 2 - 4] == 255).all() and rgba[SIZE // 2 + 4:].min() < 100  # LANCZOS rings 3 px
    # the wide image's centre square: its middle columns' ramp
    wide = np.asarray(Image.open(out / by_source["zz/wide.png"]), np.float64)
    assert 80 < wide[:, SIZE // 2, 0].mean() < 175 and wide[:, 0, 0].mean() < wide[:, -1, 0].mean()


def test_near_duplicates_can_be_kept_and_a_zip_written_with_max_images(planted, tmp_path):
    kept = prep.prepare(planted, tmp_path / "kept", size=SIZE, near_duplicates="keep", workers=2)
    assert kept["counts"]["written"] == 53 and kept["counts"]["near_duplicates_dropped"] == 0
    assert kept["near_duplicates"]["zz/near.jpg"]["kept"] is True
    assert "zz/near.jpg" in {f["source"] for f in kept["files"]}

    summary = prep.prepare(planted, tmp_path / "clean.zip", size=SIZE, max_images=10, workers=2)
    assert summary["counts"]["written"] == 10 and summary["counts"]["read"] == 10
    with zipfile.ZipFile(tmp_path / "clean.zip") as archive:
        names = sorted(archive.namelist())
        assert names == [*(f"img{i:06d}.png" for i in range(10)), "summary.json"]
        assert json.loads(archive.read("summary.json"))["counts"]["written"] == 10
        image = Image.open(io.BytesIO(archive.read("img000009.png")))
        assert (image.mode, image.size) == ("RGB", (SIZE, SIZE))
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging left behind

    # a zip as input: the same counts as its folder
    source = tmp_path / "source.zip"
    with zipfile.ZipFile(source, "w") as archive:
        for path in sorted(planted.rglob("*")):
            if path.is_file():
                archive.write(path, Path("dataset", path.relative_to(planted)).as_posix())
        archive.writestr("__MACOSX/dataset/images/._000.png", b"resource fork")
    from_zip = prep.prepare(source, tmp_path / "from_zip", size=SIZE, workers=2)
    assert from_zip["counts"] == {**kept["counts"], "written": 52, "near_duplicates_dropped": 1}
    assert from_zip["duplicates"] == {"dataset/zz/copy.png": "dataset/images/001.png"}


def test_kaggle_datasets_come_through_kagglehub(planted, tmp_path, monkeypatch):
    import kagglehub

    calls = []

    def fake_download(handle, *args, **kwargs):
        calls.append(handle)
        return str(planted / "images")

    monkeypatch.setenv("GANWORKS_KAGGLE_INPUT", str(tmp_path / "not-on-kaggle"))
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "kagglehub-cache"))
    monkeypatch.setattr(kagglehub, "dataset_download", fake_download)
    summary = prep.prepare("kaggle:someone/watches", tmp_path / "out", size=SIZE, max_images=3, workers=2)
    assert calls == ["someone/watches"] and summary["counts"]["written"] == 3
    assert summary["settings"]["data"] == "kaggle:someone/watches"

    def offline(handle, *args, **kwargs):
        raise ConnectionError("no network")

    monkeypatch.setattr(kagglehub, "dataset_download", offline)
    with pytest.raises(prep.PrepareError, match="someone/watches"):
        prep.prepare("kaggle:someone/watches", tmp_path / "out2", size=SIZE)


@pytest.mark.parametrize("args, message", [
    (["--data", "{tmp}/missing"], "missing not found"),
    (["--data", "{tmp}/file.txt"], "is a file but not a zip file"),
    (["--data", "{tmp}/bad.zip"], "is a file but not a zip file"),
    (["--data", "{tmp}/empty"], "no images"),
    (["--data", "{planted}", "--size", "100"], "--size: must be a power of two"),
    (["--data", "{planted}", "--size", "0"], "--size: must be a power of two"),
    (["--data", "{planted}", "--out", "{tmp}/taken"], "already exists and is not empty; add --overwrite"),
    (["--data", "{planted}", "--near-duplicates", "maybe"], "invalid choice"),
])
def test_bad_input_is_one_line_and_exit_2(args, message, planted, tmp_path, capsys):
    (tmp_path / "file.txt").write_text("hello")
    (tmp_path / "bad.zip").write_bytes(b"PK not really")
    (tmp_path / "empty").mkdir()
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    argv = [a.format(tmp=tmp_path, planted=planted) for a in args]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "out")]
    try:
        code = prep.main(argv)
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith("python -m watches.prepare: error: ")
    assert not (tmp_path / "out").exists() and (tmp_path / "taken" / "keep.txt").read_text() == "mine"


def test_overwrite_replaces_the_output(planted, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "stale.png").write_bytes(b"old")
    summary = prep.prepare(planted, tmp_path / "out", size=SIZE, max_images=2, overwrite=True, workers=2)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["img000000.png", "img000001.png", "summary.json"]
    assert summary["counts"]["written"] == 2


def test_a_file_name_that_is_not_utf8_is_read_and_reported(planted, tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    shutil.copyfile(planted / "images" / "000.png", folder / "a.png")
    non_utf8_copy(folder / "a.png", folder)
    summary = prep.prepare(folder, tmp_path / "out", size=SIZE, workers=2)
    assert summary["counts"]["written"] == 1 and len(summary["duplicates"]) == 1
    lines = prep.report(summary)
    assert "  bad\\xff.png: same pixels as a.png" in lines
    "\n".join(lines).encode("utf-8")  # printable
    json.loads((tmp_path / "out" / "summary.json").read_text())


PROBE = """
import json, runpy, sys
sys.argv = ["watches.prepare", *sys.argv[1:]]
try:
    runpy.run_module("watches.prepare", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "tensorflow": "tensorflow" in sys.modules}))
"""


def test_the_command_reports_and_needs_no_tensorflow(planted, tmp_path):
    done = subprocess.run([sys.executable, "-c", PROBE, "--data", str(planted), "--out", str(tmp_path / "out"),
                           "--size", str(SIZE)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    lines = done.stdout.strip().splitlines()
    assert json.loads(lines[-1]) == {"code": 0, "tensorflow": False}, done.stderr[-2000:]
    text = "\n".join(lines[:-1])
    assert f"wrote 52 at {SIZE}x{SIZE}" in text and "unreadable 4, exact duplicates dropped 1" in text
    assert "zz/copy.png: same pixels as images/001.png" in text and "zz/empty.png: empty file (0 bytes)" in text
    assert "zz/near.jpg:" in text and "bits from images/002.png" in text
    assert f"wrote {tmp_path / 'out' / 'summary.json'}" in text
