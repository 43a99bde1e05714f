"""N replicas train as one device: every model, a few steps on two logical CPUs vs one, same global batch.

One subprocess (tests/common/two_replica_models.py; the logical devices must exist before TensorFlow
initialises) trains each model's tiny preset both ways through `fit` on the task's own pipeline and
compares every variable a checkpoint holds. What must hold: the mirrored copy really trained, and it
ends where the one-device copy ends, to float32 tolerance relative to each variable's scale.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.common.two_replica_models import MODELS

ROOT = Path(__file__).resolve().parents[2]
# relative to each variable's largest entry: float32 sums taken in another order, through a few Adam steps
TOLERANCE = 2e-3


@pytest.fixture(scope="module")
def results():
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([sys.executable, "-m", "tests.common.two_replica_models", *MODELS], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=1500)
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {r["model"]: r for r in lines}


# an open defect, not a tolerance: after 2 steps the multi-scale CycleGAN's Adam moments differ by up to
# half their scale (its networks' gradients alone agree to 2e-4 on two replicas; the cause is still open)
KNOWN_DIFFERENT = {"night2day-multiscale"}


@pytest.mark.parametrize("model", [pytest.param(m, marks=pytest.mark.xfail(strict=True, reason="open: two-replica "
                                                "step of the multi-scale CycleGAN differs")) if m in KNOWN_DIFFERENT
                                   else m for m in MODELS])
def test_two_replicas_end_a_few_steps_where_one_device_ends(results, model):
    r = results[model]
    assert r["replicas"] == 2
    assert r["changed"] > 1e-4  # the models trained
    assert r["max_rel_diff"] < TOLERANCE, r
    assert r["losses_diff"] < 1e-3, r
