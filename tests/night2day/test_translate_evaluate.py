"""translate and evaluate on folders with bad inputs: too-small images, corrupt and empty
files. One tiny ResNet CycleGAN (32 px, 4 filters, 1 residual block) is trained once on the
demo data for the whole module."""

import json
import shutil

import numpy as np
import pytest
import tensorflow as tf

from common.data import load_image
from night2day.demo import demo_dataset
from common.metrics import features as F
from common.report import one_line_error
from common.runtime.images import save_png
from night2day import evaluate, evaluation, train, translate
from night2day.inference import ImageTooSmallError, Translator, copy_with_input_size
from night2day.models import resnet_generator

pytestmark = pytest.mark.filterwarnings("ignore:FID from", "ignore:.*could not be read and were skipped")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert train.main(["--model", "resnet", "--filters", "4", "--res-blocks", "1", "--data", "demo",
                       "--image-size", "32", "--out", str(out), "--steps-per-epoch", "2", "--epochs", "1",
                       "--checkpoint-every", "2", "--sample-every", "2", "--wandb", "disabled",
                       "--batch-size", "2"]) == 0
    return out


def rgb(height, width, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def png_with_bad_data(path, seed=0):
    """A PNG that passes the header/IEND check but fails to decode (IDAT bytes zeroed)."""
    data = bytearray(tf.io.encode_png(rgb(24, 24, seed)).numpy())
    at = data.index(b"IDAT") + 20
    data[at:at + 8] = b"\0" * 8
    path.write_bytes(bytes(data))
    return path


def skip_lines(err):
    return [line for line in err.splitlines() if line.startswith("skipped ")]


def assert_no_tf_noise(text):
    for noise in ("function_node", "Traceback", "{{", "[Op:", "Exception encountered"):
        assert noise not in text, (noise, text)


# ----------------------------------------------------------------------------- translate


def test_translate_skips_a_tiny_and_unreadable_files_and_goes_on(run, tmp_path, capsys):
    src = tmp_path / "in"
    save_png(src / "a_good1.png", rgb(36, 40, 1))
    save_png(src / "b_tiny.png", rgb(7, 5, 2))  # 5 wide, 7 high: below the 8 px minimum
    (src / "c_corrupt.png").write_bytes(np.random.default_rng(3).bytes(300))
    (src / "d_empty.png").write_bytes(b"")
    png_with_bad_data(src / "e_baddata.png")
    save_png(src / "f_good2.png", rgb(9, 8, 4))  # just above the minimum, after the bad ones
    out = tmp_path / "out"

    # at its own resolution (--size original) an image has to reach the generator's 8-px minimum
    code = translate.main(["--checkpoint", str(run), "--input", str(src), "--out", str(out), "--grid",
                           "--size", "original"])

    captured = capsys.readouterr()
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["a_good1.png", "a_good1_grid.png",
                                                     "f_good2.png", "f_good2_grid.png"]
    assert np.asarray(load_image(str(out / "a_good1.png"))).shape == (36, 40, 3)
    assert np.asarray(load_image(str(out / "f_good2.png"))).shape == (9, 8, 3)
    lines = skip_lines(captured.err)
    assert [line.split(":")[0] for line in lines] == [
        f"skipped {src / name}" for name in ("b_tiny.png", "c_corrupt.png", "d_empty.png", "e_baddata.png")]
    assert lines[0].endswith("b_tiny.png: 5x7 px is smaller than the 8 px minimum of this generator")
    assert "not an image" in lines[1]
    assert "empty file" in lines[2]
    assert "cannot be decoded (Invalid PNG data" in lines[3]
    assert_no_tf_noise(captured.err)
    assert len(captured.err.strip().splitlines()) == 4  # one line per skipped file, nothing else
    assert "translated 2 of 6 image(s)" in captured.out and "skipped 4" in captured.out


def test_at_the_training_scale_a_tiny_image_is_translated_like_any_other(run, tmp_path):
    save_png(tmp_path / "in" / "tiny.png", rgb(7, 5, 2))
    assert translate.main(["--checkpoint", str(run), "--input", str(tmp_path / "in"),
                           "--out", str(tmp_path / "o")]) == 0  # --size train: resized to 88 px and back
    assert np.asarray(load_image(str(tmp_path / "o" / "tiny.png"))).shape == (7, 5, 3)


def test_translate_exits_1_only_when_every_image_is_skipped(run, tmp_path, capsys):
    src = tmp_path / "in"
    save_png(src / "tiny.png", rgb(3, 100))
    (src / "corrupt.png").write_bytes(b"not an image at all")
    assert translate.main(["--checkpoint", str(run), "--input", str(src), "--out", str(tmp_path / "o"),
                           "--size", "original"]) == 1
    captured = capsys.readouterr()
    assert len(skip_lines(captured.err)) == 2 and "100x3 px is smaller than the 8 px minimum" in captured.err
    assert "none of the 2 image(s) could be translated" in captured.err
    assert "translated 0 of 2" in captured.out
    assert_no_tf_noise(captured.err)


def test_an_unexpected_per_image_failure_is_one_line_and_the_batch_goes_on(run, tmp_path, capsys, monkeypatch):
    src = tmp_path / "in"
    for i in range(3):
        save_png(src / f"{i}.png", rgb(16 + 4 * i, 16, i))
    real_translate = Translator.translate

    def flaky(self, image, size="original"):
        if image.shape[0] == 20:
            raise tf.errors.InvalidArgumentError(
                None, None, "Exception encountered when calling Conv.call().\n\n\x1b[1m{{function_node "
                "__wrapped__Conv2D_device_/job:localhost/replica:0/task:0/device:CPU:0}} out of luck "
                "[Op:Conv2D] name: \x1b[0m\n\nArguments received by Conv.call():\n  x=...")
        return real_translate(self, image, size)

    monkeypatch.setattr(Translator, "translate", flaky)
    assert translate.main(["--checkpoint", str(run), "--input", str(src), "--out", str(tmp_path / "o")]) == 0
    captured = capsys.readouterr()
    assert skip_lines(captured.err) == [f"skipped {src / '1.png'}: translation failed "
                                        "(InvalidArgumentError: out of luck)"]
    assert_no_tf_noise(captured.err)
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["0.png", "2.png"]


def test_the_minimum_size_is_worked_out_from_the_network_and_is_tight(run):
    translator = Translator.load(run)
    assert translator.min_size == 8  # pad 1 in the residual blocks at 1/4 resolution: 2 px there
    for shape in [(8, 8), (8, 11), (11, 9)]:
        assert translator.translate(rgb(*shape), "original").shape == (*shape, 3)
    with pytest.raises(ImageTooSmallError, match=r"^20x7 px is smaller than the 8 px minimum"):
        translator.translate(rgb(7, 20), "original")
    # the limit is TensorFlow's, not ours: one step below it the network itself fails
    with pytest.raises(Exception) as failure:
        copy_with_input_size(translator.forward)(tf.zeros((1, 4, 8, 3)))
    message = one_line_error(failure.value)
    assert "paddings must be less than the dimension size" in message
    assert "\n" not in message and "function_node" not in message and "[Op:" not in message

    # without residual blocks only the 7x7 convolutions' pad 3 at full resolution remains
    shallow = resnet_generator(32, filters=4, res_blocks=0)
    plain = Translator(shallow, value_range="tanh", image_size=32, fully_convolutional=True)
    assert plain.min_size == 4
    assert plain.translate(rgb(4, 5)).shape == (4, 5, 3)


def test_size_option_rounds_to_the_generator_step_and_refuses_too_small(run, tmp_path, capsys):
    src = tmp_path / "wide.png"
    save_png(src, rgb(20, 30))
    assert translate.main(["--checkpoint", str(run), "--input", str(src), "--out", str(tmp_path / "o"),
                           "--size", "30", "--grid"]) == 0
    assert np.asarray(load_image(str(tmp_path / "o" / "wide.png"))).shape == (30, 30, 3)
    with pytest.raises(SystemExit) as exit_:
        translate.main(["--checkpoint", str(run), "--input", str(src), "--out", str(tmp_path / "o2"),
                        "--size", "6"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: size 6 px is smaller than the 8 px minimum of this generator"]


# ----------------------------------------------------------------------------- evaluate


@pytest.fixture()
def data_with_bad_files(tmp_path):
    root = tmp_path / "data"
    demo = demo_dataset()
    for split in ("testA", "testB"):
        shutil.copytree(demo / split, root / split)
    bad = {
        root / "testA" / "003_corrupt.png": "not an image",
        root / "testA" / "zz_baddata.png": "cannot be decoded (Invalid PNG data",
        root / "testB" / "000_empty.png": "empty file",
    }
    (root / "testA" / "003_corrupt.png").write_bytes(np.random.default_rng(5).bytes(500))
    png_with_bad_data(root / "testA" / "zz_baddata.png")
    (root / "testB" / "000_empty.png").write_bytes(b"")
    return root, bad


def test_evaluate_names_every_skipped_test_image(run, data_with_bad_files, feature_extractor):
    root, bad = data_with_bad_files
    results = evaluation.evaluate(run, root, extractor=feature_extractor, metrics=["fid", "kid"],
                                  kid_subset_size=3)
    assert results["n_test_night"] == 8 and results["n_test_day"] == 8
    assert results["day_vs_translated_n_real"] == 8 and results["day_vs_translated_n_fake"] == 8
    skipped = {item["path"]: item["reason"] for item in results["skipped_files"]}
    assert sorted(skipped) == sorted(str(p) for p in bad)
    for path, reason in bad.items():
        assert skipped[str(path)].startswith(reason)
        assert_no_tf_noise(skipped[str(path)])
    assert "day_vs_translated_skipped_files" not in results

    # with max_images the first N readable images are used, and only the bad files before them named
    limited = evaluation.evaluate(run, root, metrics=[], max_images=3)
    assert limited["n_test_night"] == 3
    assert [item["path"] for item in limited["skipped_files"]] == [str(root / "testB" / "000_empty.png")]


def test_evaluate_cli_prints_and_writes_the_skipped_files(run, data_with_bad_files, tmp_path, capsys, monkeypatch,
                                                          feature_extractor):
    root, bad = data_with_bad_files
    monkeypatch.setattr(F, "inception_extractor", lambda weights=None: feature_extractor)
    monkeypatch.setenv(F.FEATURE_CACHE_ENV, str(tmp_path / "cache"))
    target = tmp_path / "evaluation.json"
    assert evaluate.main(["--checkpoint", str(run), "--data", str(root), "--json", str(target)]) == 0
    printed = capsys.readouterr().out
    assert "skipped 3 unreadable test image(s):" in printed
    for path in bad:
        assert sum(line.strip().startswith(f"{path}: ") for line in printed.splitlines()) == 1
    saved = json.loads(target.read_text())
    assert sorted(item["path"] for item in saved["skipped_files"]) == sorted(str(p) for p in bad)
    assert all(item["reason"] for item in saved["skipped_files"])
    # --json elsewhere: the run's report.html shows that evaluation, skipped files included
    report = (run / "report.html").read_text()
    assert "<h3>skipped_files</h3>" in report and all(f"<td>{path}</td>" in report for path in bad)


def test_evaluate_with_no_readable_test_image_is_a_one_line_error(run, tmp_path, capsys):
    root = tmp_path / "data"
    shutil.copytree(demo_dataset() / "testB", root / "testB")
    (root / "testA").mkdir()
    (root / "testA" / "a.png").write_bytes(b"")
    assert evaluate.main(["--checkpoint", str(run), "--data", str(root), "--metrics", "",
                          "--json", str(tmp_path / "e.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: none of the 1 images in {root / 'testA'} can be read "
                   f"(first: {root / 'testA' / 'a.png'}: empty file (0 bytes))"]
