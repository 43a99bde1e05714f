"""benchmarks.inpainting_patterns: its procedural images, and a smoke run at tiny size whose exit code says
whether the model beat Telea and NS on hole PSNR by the margin."""

import json

import numpy as np
import pytest

from benchmarks import inpainting_patterns as patterns


def test_pattern_images_are_seeded_and_cycle_through_the_kinds():
    a = patterns.pattern_images(6, size=32, seed=3)
    assert a.shape == (6, 32, 32, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, patterns.pattern_images(6, size=32, seed=3))
    np.testing.assert_array_equal(a[:4], patterns.pattern_images(4, size=32, seed=3))  # image i is i's own draw
    assert not np.array_equal(a, patterns.pattern_images(6, size=32, seed=4))
    for image in a:  # two colours and the soft edges between them: far from flat
        assert image.reshape(-1, 3).std(axis=0).max() > 10


def test_stripes_are_constant_along_their_direction():
    rng = np.random.default_rng(0)
    image = patterns.pattern_image("stripes", np.random.default_rng(0), 48).astype(float)
    angle = rng.uniform(0, np.pi)  # the first draw, as pattern_image makes it
    # step one pixel along the stripes (perpendicular to the wave's direction): nearly the same value
    ys, xs = np.mgrid[8:40, 8:40]
    y2, x2 = np.round(ys + 3 * np.cos(angle)).astype(int), np.round(xs - 3 * np.sin(angle)).astype(int)
    along = np.abs(image[ys, xs] - image[y2, x2]).mean()
    across = np.abs(image[ys, xs] - image[np.round(ys + 3 * np.sin(angle)).astype(int),
                                           np.round(xs + 3 * np.cos(angle)).astype(int)]).mean()
    assert along < 0.5 * across


def test_the_benchmark_trains_scores_and_reports(tmp_path, capsys):
    report = tmp_path / "patterns.json"
    code = patterns.main(["--steps", "2", "--image-size", "32", "--filters", "4", "--batch-size", "2",
                          "--train-images", "6", "--test-images", "3", "--out", str(tmp_path / "run"),
                          "--json", str(report)])
    printed = capsys.readouterr().out
    methods = json.loads(report.read_text())["results"]["methods"]
    assert "model vs Telea" in printed and "by more than 3 dB" in printed
    margin = all(methods["model"]["psnr_hole"] > methods[m]["psnr_hole"] + 3 for m in ("telea", "ns"))
    assert code == (0 if margin else 1)


def test_axis_patterns_run_along_a_row_or_a_column():
    for seed in range(4):  # stripes along the axes: constant down every column or along every row
        image = patterns.pattern_image("stripes", np.random.default_rng(seed), 32, angles="axis").astype(float)
        rows, cols = np.abs(np.diff(image, axis=0)).sum(), np.abs(np.diff(image, axis=1)).sum()
        assert min(rows, cols) == 0 and max(rows, cols) > 0
    with pytest.raises(ValueError, match="angles"):
        patterns.pattern_image("stripes", np.random.default_rng(0), 8, angles="diagonal")


def test_unknown_pattern_kinds_are_a_one_line_error(capsys):
    with pytest.raises(SystemExit):
        patterns.parse_args(["--patterns", "stripes,zigzag"])
    assert "--patterns takes kinds of stripes, checkerboard, rings, got zigzag" in capsys.readouterr().err
