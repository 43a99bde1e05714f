"""benchmarks.profile_step: the per-op summary of a profiled CycleGAN step (tiny sizes), ours and PyTorch's."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import profile_step

REPO = Path(__file__).resolve().parent.parent
TINY = ["--image-size", "32", "--filters", "4", "--res-blocks", "1", "--steps", "1", "--warmup", "1"]


def test_op_types_of_both_frameworks_fall_into_the_same_groups():
    assert profile_step.group_of("_MklNativeConv2D") == profile_step.group_of("aten::mkldnn_convolution") \
        == "conv forward"
    assert profile_step.group_of("_MklNativeConv2DBackpropFilter") == profile_step.group_of("Conv2DBackpropInput") \
        == profile_step.group_of("aten::convolution_backward") == "conv backward"
    assert profile_step.group_of("MirrorPad") == profile_step.group_of("aten::reflection_pad2d") == "other"


def test_a_profiled_step_is_summed_per_op_type(tmp_path):
    out = tmp_path / "profile.json"
    done = subprocess.run([sys.executable, "-m", "benchmarks.profile_step", *TINY, "--json", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    ours = json.loads(out.read_text())["ours"]
    ops = ours["ops"]
    from night2day import models

    # one step: forward and backward convolutions, and one fused Adam update per trainable variable of the 4 nets
    assert {"conv forward", "conv backward"} <= {profile_step.group_of(op) for op in ops}
    per_pair = (len(models.resnet_generator(32, filters=4, res_blocks=1).trainable_variables)
                + len(models.patch_discriminator(32, filters=4).trainable_variables))
    assert ops["ResourceApplyAdam"][1] == 2 * per_pair
    busy = sum(s for s, _ in ops.values())
    assert 0 < ours["wall_seconds"] <= ours["python_wall_seconds"] and 0 < busy < 10 * ours["wall_seconds"]
    assert "ours (TensorFlow)" in done.stdout and "conv backward" in done.stdout


def test_torch_profile_if_torch_is_installed():
    pytest.importorskip("torch")
    result = profile_step.run_torch({"image_size": 32, "filters": 4, "res_blocks": 1, "steps": 1, "warmup": 1},
                                    sys.executable)
    assert result["wall_seconds"] > 0
    assert result["ops"]["aten::convolution_backward"][1] > 0
