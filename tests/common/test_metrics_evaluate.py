"""Folder evaluation: the feature cache, evaluate_folders and the CLI, with a tiny random
feature model saved as a .keras file (no ImageNet weights on this machine)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from common.metrics import evaluate, registry
from benchmarks.random_features import save_random_feature_model
from common.metrics import features as F

pytestmark = pytest.mark.filterwarnings("ignore:FID from")

ROOT = Path(__file__).resolve().parents[2]


def write_images(folder: Path, images) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        (folder / f"{i:04d}.png").write_bytes(tf.io.encode_png(image).numpy())
    return folder


def smooth_images(n, size=24, seed=0):
    """Colour gradients: a 'real' distribution."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 1, size)
    out = []
    for _ in range(n):
        c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
        img = c0 + (c1 - c0) * ramp[:, None, None] * np.ones((size, size, 1))
        out.append(img.astype(np.uint8))
    return out


def noise_images(n, size=24, seed=1):
    """Per-pixel noise: a bad 'generator'."""
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8) for _ in range(n)]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    real = write_images(root / "real" / "a", smooth_images(12, seed=0)).parent
    write_images(real / "b", smooth_images(12, seed=2))  # a subfolder: listing is recursive
    fake = write_images(root / "fake", noise_images(20))
    return real, fake


@pytest.fixture(scope="module")
def extractor(feature_extractor):
    return feature_extractor


class CountingExtractor:
    """Wraps an extractor and counts the images it sees."""

    def __init__(self, inner):
        self.inner, self.images = inner, 0
        self.name, self.input_size = inner.name, inner.input_size

    def __call__(self, images, value_range=None):
        self.images += len(images)
        return self.inner(images, value_range)


def test_folder_features_are_cached_by_content_and_extractor(folders, extractor, tmp_path):
    real, _ = folders
    counting = CountingExtractor(extractor)
    first = F.folder_features(real, counting, cache_dir=tmp_path, batch_size=5)
    assert counting.images == 24 and first["pool"].shape == (24, extractor.feature_dim)
    again = F.folder_features(real, counting, cache_dir=tmp_path)
    assert counting.images == 24  # served from the cache
    np.testing.assert_array_equal(again["pool"], first["pool"])
    np.testing.assert_array_equal(again["logits"], first["logits"])
    assert len(list(tmp_path.glob("*.npz"))) == 1
    # the cache holds exactly what a fresh, uncached pass computes
    fresh = F.folder_features(real, extractor, cache_dir=False)
    np.testing.assert_allclose(fresh["pool"], first["pool"], rtol=1e-5, atol=1e-6)


def test_a_changed_folder_or_extractor_misses_the_cache(tmp_path, extractor):
    folder = write_images(tmp_path / "imgs", smooth_images(6))
    cache = tmp_path / "cache"
    counting = CountingExtractor(extractor)
    F.folder_features(folder, counting, cache_dir=cache)
    write_images(tmp_path / "imgs2", noise_images(1, seed=7))
    os.replace(tmp_path / "imgs2" / "0000.png", folder / "0003.png")  # one image replaced
    changed = F.folder_features(folder, counting, cache_dir=cache)
    assert counting.images == 12
    other = CountingExtractor(F.keras_model_extractor(save_random_feature_model(tmp_path / "o.keras", seed=1)))
    F.folder_features(folder, other, cache_dir=cache)
    assert other.images == 6
    assert len(list(cache.glob("*.npz"))) == 3
    assert changed["pool"].shape[0] == 6


def test_max_images_takes_a_seeded_subset_across_subfolders(folders):
    real, _ = folders
    subset = F.select_images(real, max_images=10)
    assert len(subset) == 10 and subset == sorted(subset)
    assert subset == F.select_images(real, max_images=10)
    assert {Path(p).parent.name for p in subset} == {"a", "b"}


def test_evaluate_folders_reports_every_metric_with_sample_counts(folders, extractor, tmp_path):
    real, fake = folders
    result = evaluate.evaluate_folders(real, fake, extractor=extractor, cache_dir=tmp_path, kid_subset_size=10)
    for key in ("fid", "kid", "kid_std", "is", "is_std", "precision", "recall"):
        assert np.isfinite(result[key]), key
    assert (result["n_real"], result["n_fake"]) == (24, 20)
    assert result["kid_subset_size"] == 10
    assert result["fid"] > 0 and result["kid"] > 0
    assert result["extractor"] == extractor.name
    assert "same file" in result["comparability"]
    assert result["fake_images_per_second"] > 0


def test_a_folder_against_itself_scores_perfectly(folders, extractor, tmp_path):
    real, _ = folders
    result = evaluate.evaluate_folders(real, real, metrics="fid,pr", extractor=extractor, cache_dir=tmp_path)
    assert abs(result["fid"]) < 1e-3
    assert result["precision"] == 1.0 and result["recall"] == 1.0
    assert "kid" not in result and "is" not in result


def test_metrics_results_equal_the_metric_modules_on_the_same_features(folders, extractor, tmp_path):
    from common.metrics import fid, precision_recall

    real, fake = folders
    result = evaluate.evaluate_folders(real, fake, metrics=["fid", "pr"], extractor=extractor, cache_dir=False)
    r = F.folder_features(real, extractor, cache_dir=False)["pool"]
    f = F.folder_features(fake, extractor, cache_dir=False)["pool"]
    assert result["fid"] == pytest.approx(fid.fid_from_features(r, f).fid, rel=1e-5)
    assert result["precision"] == precision_recall.precision_recall(r, f)["precision"]


def test_unknown_metrics_and_options_fail_before_extraction(folders, extractor):
    real, fake = folders
    with pytest.raises(ValueError, match="unknown metric 'fdi'"):
        evaluate.evaluate_folders(real, fake, metrics="fdi", extractor=extractor)
    with pytest.raises(TypeError, match="kid_subset"):
        evaluate.evaluate_folders(real, fake, extractor=extractor, kid_subset=10)
    assert set(registry.list_metrics()) >= {"fid", "kid", "is", "pr"}


def test_cli_prints_a_table_and_writes_json(folders, tmp_path, capsys, monkeypatch, feature_model):
    real, fake = folders
    monkeypatch.setenv(F.FEATURE_CACHE_ENV, str(tmp_path / "cache"))
    out = tmp_path / "out" / "metrics.json"
    code = evaluate.main(["--real", str(real), "--fake", str(fake), "--extractor", str(feature_model),
                          "--json", str(out), "--kid-subset-size", "8", "--max-images", "20"])
    assert code == 0
    printed = capsys.readouterr()
    for name in ("fid", "kid", "is", "precision", "recall", "n_real=20", "n_fake=20"):
        assert name in printed.out
    assert "img/s" in printed.err  # the progress bar
    saved = json.loads(out.read_text())
    assert saved["n_real"] == 20 and saved["kid_subset_size"] == 8
    assert list((tmp_path / "cache").glob("*.npz"))  # real features cached in the env's location


def test_cli_without_inception_weights_says_how_to_provide_them(folders, tmp_path, capsys, monkeypatch):
    import keras

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    monkeypatch.delenv(F.INCEPTION_WEIGHTS_ENV, raising=False)
    real, fake = folders
    code = evaluate.main(["--real", str(real), "--fake", str(fake), "--json", str(tmp_path / "m.json")])
    assert code == 2
    err = capsys.readouterr().err
    assert "--inception-weights" in err and F.INCEPTION_WEIGHTS_ENV in err
    assert not (tmp_path / "m.json").exists()


def test_cli_takes_inception_names_or_a_keras_feature_model_and_nothing_else(folders, tmp_path, capsys):
    real, fake = folders
    for value in ("random", "vgg"):
        with pytest.raises(SystemExit) as exit_:
            evaluate.main(["--real", str(real), "--fake", str(fake), "--extractor", value])
        assert exit_.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "nor a .keras feature model file" in err[0], err
    code = evaluate.main(["--real", str(real), "--fake", str(fake), "--extractor", str(tmp_path / "missing.keras"),
                          "--json", str(tmp_path / "m.json")])
    assert code == 2 and "missing.keras" in capsys.readouterr().err


def test_cli_runs_as_a_module(folders, tmp_path, feature_model):
    real, fake = folders
    out = tmp_path / "metrics.json"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **{F.FEATURE_CACHE_ENV: str(tmp_path / "cache")})
    proc = subprocess.run(
        [sys.executable, "-m", "common.metrics.evaluate", "--real", str(real), "--fake", str(fake),
         "--metrics", "fid,is", "--extractor", str(feature_model), "--json", str(out), "--quiet"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "fid" in proc.stdout and json.loads(out.read_text())["is"] >= 1.0


def test_an_unreadable_image_is_skipped_with_a_warning_not_fatal(tmp_path, extractor):
    folder = write_images(tmp_path / "imgs", smooth_images(5))
    (folder / "0002.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.warns(UserWarning, match="1 of 5 images"):
        feats = F.folder_features(folder, extractor, cache_dir=False)
    assert feats["pool"].shape == (4, extractor.feature_dim)


def _bad_files(folder: Path) -> dict:
    """Unreadable images of every kind in ``folder`` -> {path: start of the reason}."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.png").write_bytes(b"")
    (folder / "random.png").write_bytes(np.random.default_rng(9).bytes(400))
    # passes the cheap header check (PNG signature, IEND present) but fails to decode
    data = bytearray(tf.io.encode_png(noise_images(1, seed=3)[0]).numpy())
    at = data.index(b"IDAT") + 20
    data[at:at + 8] = b"\0" * 8
    (folder / "baddata.png").write_bytes(bytes(data))
    return {
        str(folder / "empty.png"): "empty file",
        str(folder / "random.png"): "not an image",
        str(folder / "baddata.png"): "cannot be decoded (Invalid PNG data",
    }


@pytest.fixture()
def folders_with_bad_files(tmp_path):
    real = write_images(tmp_path / "real", smooth_images(6))
    # fails the header check (data after the JPEG end marker) but decodes: used, not skipped
    jpeg = tf.io.encode_jpeg(smooth_images(1, seed=4)[0]).numpy() + b"\0" * 2000
    (real / "trailing.jpg").write_bytes(jpeg)
    bad = _bad_files(real)
    fake = write_images(tmp_path / "fake", noise_images(5))
    (fake / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    bad[str(fake / "broken.png")] = "truncated PNG"
    return real, fake, bad


def test_evaluate_folders_names_every_skipped_file(folders_with_bad_files, extractor, tmp_path):
    real, fake, bad = folders_with_bad_files
    for cache in (tmp_path / "cache", tmp_path / "cache"):  # the second run reads real's cached features
        result = evaluate.evaluate_folders(real, fake, metrics="fid,kid", extractor=extractor, cache_dir=cache,
                                           kid_subset_size=4)
        assert (result["n_real"], result["n_fake"]) == (7, 5)
        skipped = {item["path"]: item["reason"] for item in result["skipped_files"]}
        assert sorted(skipped) == sorted(bad)
        for path, reason in bad.items():
            assert skipped[path].startswith(reason), skipped[path]
            assert "function_node" not in skipped[path] and "\n" not in skipped[path]
    itself = evaluate.evaluate_folders(real, real, metrics="fid", extractor=extractor, cache_dir=False)
    assert len(itself["skipped_files"]) == 3  # a folder against itself: each bad file named once


def test_cli_prints_and_writes_the_skipped_files(folders_with_bad_files, tmp_path, capsys, feature_model):
    real, fake, bad = folders_with_bad_files
    out = tmp_path / "m.json"
    code = evaluate.main(["--real", str(real), "--fake", str(fake), "--extractor", str(feature_model),
                          "--metrics", "fid,kid", "--kid-subset-size", "4", "--no-cache", "--quiet",
                          "--json", str(out)])
    assert code == 0
    printed = capsys.readouterr().out.splitlines()
    assert "skipped 4 unreadable image file(s):" in printed
    for path, reason in bad.items():
        assert any(line.startswith(f"  {path}: {reason}") for line in printed), path
    saved = json.loads(out.read_text())
    assert sorted(item["path"] for item in saved["skipped_files"]) == sorted(bad)


def test_cli_with_no_readable_real_image_is_a_one_line_error(folders, tmp_path, capsys, feature_model):
    _, fake = folders
    bad = _bad_files(tmp_path / "real")
    code = evaluate.main(["--real", str(tmp_path / "real"), "--fake", str(fake), "--extractor", str(feature_model),
                          "--no-cache", "--quiet", "--json", str(tmp_path / "m.json")])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: none of the 3 images in {tmp_path / 'real'} can be read")
    assert sorted(bad)[0] in err[0] and "function_node" not in err[0]
    assert not (tmp_path / "m.json").exists()


def test_the_fid_sample_warning_names_the_real_feature_dimension(folders, extractor, tmp_path):
    from common.metrics import fid

    real, fake = folders
    with pytest.warns(UserWarning, match="FID from") as caught:
        evaluate.evaluate_folders(real, fake, metrics="fid", extractor=extractor, cache_dir=False)
    message = str(caught[0].message)
    assert f"{extractor.feature_dim}-d features" in message and "n_real=24, n_fake=20" in message
    assert "2048-d" not in message and "Inception" not in message and "rank-deficient" not in message

    assert "rank-deficient" in fid.small_sample_warning(5, 5, dim=10)
    assert "no more samples than the 10 feature dimensions" in fid.small_sample_warning(5, 5, dim=10)
    inception = fid.small_sample_warning(1000, 1000, dim=2048)
    assert "2048-d features" in inception and "rank-deficient" in inception
    assert fid.small_sample_warning(3000, 2500, dim=2048) is None
    assert fid.small_sample_warning(3000, 2500, dim=4) is None
