"""Smoke test of benchmarks.train_step (Keras worker in a fresh process, the table) and of the torch worker."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import train_step

REPO = Path(__file__).resolve().parent.parent
TINY = ["--models", "resnet", "--sizes", "32", "--xla", "off", "--mixed-precision", "off", "--steps", "2",
        "--warmup", "1", "--repeats", "1", "--filters", "8", "--res-blocks", "1", "--timeout", "600"]


def test_tiny_resnet_step_is_timed_in_a_worker_process(tmp_path):
    out = tmp_path / "result.json"
    done = subprocess.run([sys.executable, "-m", "benchmarks.train_step", *TINY, "--json", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    keras_rows = [r for r in report["results"] if r["config"]["framework"] == "keras"]
    assert len(keras_rows) == 1
    (run,) = keras_rows[0]["runs"]
    assert "error" not in run, run
    assert run["seconds_per_step"] > 0 and len(run["step_seconds"]) == 2
    assert all(t > 0 for t in run["step_seconds"])
    assert run["params"]["generator_g"] == run["params"]["generator_f"] > 0
    assert run["graph_optimizer_in_use"] == "off"  # --graph-optimizer auto, as training resolves it on a CPU
    # the torch row is there whether or not this interpreter has torch
    torch_rows = [r for r in report["results"] if r["config"]["framework"] == "torch"]
    assert len(torch_rows) == 1
    assert "resnet     32" in done.stdout and "torch-ref  32" in done.stdout
    try:
        import torch  # noqa: F401
    except ImportError:
        assert train_step.TORCH_MISSING in done.stdout
    assert "TensorFlow" in done.stdout and "machine:" in done.stdout


def test_plan_and_table_with_made_up_results():
    args = train_step.parse_args(["--models", "resnet", "--sizes", "128", "--xla", "off,on",
                                  "--mixed-precision", "off", "--repeats", "2"])
    configs = train_step.plan(args)
    assert [(c["framework"], c["xla"]) for c in configs] == [("keras", False), ("keras", True), ("torch", False)]

    def run(config, seconds):
        return {**config, "seconds_per_step": seconds, "warmup_seconds": [9.0], "step_seconds": [seconds]}

    results = {
        train_step._key(configs[0]): [run(configs[0], 2.0), run(configs[0], 4.0)],
        train_step._key(configs[1]): [{**configs[1], "error": "InternalError: boom"}] * 2,
        train_step._key(configs[2]): [run(configs[2], 1.0), run(configs[2], 1.0)],
    }
    table = train_step.format_table(configs, results, args)
    assert "3.000 [2.000-4.000]" in table and "3.00x" in table
    assert "failed: InternalError: boom" in table
    graphs = train_step.plan(train_step.parse_args(["--models", "resnet", "--sizes", "128", "--xla", "off",
                                                    "--mixed-precision", "off", "--graph-optimizer", "on,off"]))
    assert [(c["framework"], c.get("graph_optimizer")) for c in graphs] == \
        [("keras", "on"), ("keras", "off"), ("torch", None)]


def test_torch_worker_if_torch_is_installed():
    pytest.importorskip("torch")
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "torch_cyclegan.py"), "--worker",
                           json.dumps({"image_size": 32, "batch_size": 1, "steps": 2, "warmup": 1,
                                       "filters": 8, "res_blocks": 1})],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["seconds_per_step"] > 0 and len(result["step_seconds"]) == 2
