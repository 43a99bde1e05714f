"""Smoke test of benchmarks.inpainting_quality at tiny size: it trains, fills the held-out demo images with
the model, Telea and NS on the same holes, and its exit code says whether the model won on hole PSNR."""

import json

from benchmarks import inpainting_quality


def test_inpainting_benchmark_trains_scores_and_reports(tmp_path, capsys):
    report = tmp_path / "quality.json"
    code = inpainting_quality.main(["--steps", "2", "--image-size", "32", "--filters", "4", "--batch-size", "2",
                                    "--out", str(tmp_path / "run"), "--json", str(report)])
    printed = capsys.readouterr().out
    data = json.loads(report.read_text())
    methods = data["results"]["methods"]
    assert data["results"]["images"] == 12 and data["steps"] == 2 and "trained 2 steps in" in printed
    for name in ("Telea (cv2)", "Navier-Stokes (cv2)", "model vs Telea", "model vs Navier-Stokes"):
        assert name in printed
    for scores in methods.values():
        assert 0 < scores["psnr_hole"] < scores["psnr_full"] < 100
    wins = all(methods["model"]["psnr_hole"] > methods[m]["psnr_hole"] for m in ("telea", "ns"))
    assert code == (0 if wins else 1)
