"""Smoke test of benchmarks.night2day_quality at tiny size: it trains, scores the paired demo test split
and its exit code says whether G(night) beat the colour-transfer baseline."""

import json

from benchmarks import night2day_quality


def test_quality_benchmark_trains_scores_and_reports(tmp_path, capsys):
    report = tmp_path / "quality.json"
    code = night2day_quality.main(["--steps", "4", "--image-size", "32", "--filters", "4", "--res-blocks", "1",
                                   "--curve", "2", "--out", str(tmp_path / "run"), "--json", str(report)])
    printed = capsys.readouterr().out
    data = json.loads(report.read_text())
    paired = data["results"]["paired"]
    assert paired["pairs"] == 8
    for method in ("night (untranslated)", "colour transfer", "G(night)"):
        assert method in printed and 0 < paired[method]["psnr"] < 60
    assert data["steps"] == 4 and "trained 4 steps in" in printed
    assert [row["step"] for row in data["curve"]] == [2, 4]  # --curve 2: every second step's checkpoint
    beats = all(paired["G(night)"][m] > paired["colour transfer"][m] for m in ("psnr", "ssim"))
    assert code == (0 if beats else 1)
    assert "--history-pool" not in data["argv"]  # the preset's own pool of 50, not a benchmark setting
