"""Every model's train CLI with --strategy mirrored on two logical CPUs trains, resumes and exports.

One subprocess (tests/common/mirrored_cli_check.py) runs each model's CLI twice in-process, as a
notebook would: 2 steps, then --epochs 2, which must resume at step 2 and finish at step 4, with one
log line per step, the samples and the exported generators.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.common.two_replica_models import MODELS

ROOT = Path(__file__).resolve().parents[2]
# for suite time, the two models with their own step machinery (StyleGAN2's per-phase train functions;
# inpainting's dropout and synchronised BatchNorm); the step itself of every model is checked on two
# replicas in test_two_replicas, and every CLI passed by hand: python -m tests.common.mirrored_cli_check
CHECKED = ["inpainting-improved", "watches-stylegan2"]
EXPORTS = {"night2day": ["generator_f.keras", "generator_g.keras"], "inpainting": ["generator.keras"],
           "watches": ["generator.keras"]}


@pytest.fixture(scope="module")
def results():
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "2", "WANDB_MODE": "disabled"}
    proc = subprocess.run([sys.executable, "-m", "tests.common.mirrored_cli_check", *CHECKED], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {r["model"]: r for r in (json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{"))}


@pytest.mark.parametrize("model", CHECKED)
def test_the_cli_trains_resumes_and_exports_on_two_replicas(results, model):
    r = results[model]
    assert r["exit_codes"] == [0, 0]
    assert r["resumed"]
    assert r["steps"] == [1, 2, 3, 4]
    assert r["exports"] == EXPORTS[MODELS[model][0]]
    assert r["samples"] == ["step_000000002.png", "step_000000004.png"]
