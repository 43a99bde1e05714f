"""Smoke test of benchmarks.watches_dcgan at tiny size: it trains, scores the untrained and the trained
generator, and its exit code says whether FID fell."""

import json

from benchmarks import watches_dcgan


def test_watches_benchmark_trains_and_compares_start_and_end(tmp_path, capsys):
    report = tmp_path / "dcgan.json"
    code = watches_dcgan.main(["--steps", "4", "--image-size", "32", "--filters", "4", "--batch-size", "4",
                               "--num-fake", "24", "--json", str(report)])
    printed = capsys.readouterr().out
    data = json.loads(report.read_text())
    start, end = data["scores"]["start"], data["scores"]["end"]
    assert data["steps"] == 4 and "untrained (step 0)" in printed and "trained (step 4)" in printed
    assert start["fid"] != end["fid"] and start["n_fake"] == end["n_fake"] == 24
    assert code == (0 if end["fid"] < start["fid"] else 1)
